// reflectlab: small progressive enhancements. No inline scripts (CSP).
"use strict";
