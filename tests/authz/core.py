from tests.authz import LOGIN, PUBLIC, Rule

RULES = {
    "home": Rule(LOGIN),
    "healthz": Rule(PUBLIC),
    "favicon": Rule(PUBLIC),
    "login": Rule(PUBLIC),
    "logout": Rule(PUBLIC, methods=("POST",)),
    "api-token": Rule(PUBLIC, methods=("POST",), api=True),
    "api-token-page": Rule(LOGIN, methods=("GET", "POST")),
    "api-schema": Rule(LOGIN, api=True),
    "api-docs": Rule(LOGIN, api=True),
}
