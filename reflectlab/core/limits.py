"""How much of an untrusted text the app keeps.

``MAX_ERROR_CHARS`` bounds every stored error (``Trace.error``,
``RunItem.error``, ``Export.error``) and the server messages providers quote
into them: a model server may answer a megabyte of HTML, and the error lists
show each message in full.
"""

from __future__ import annotations

MAX_ERROR_CHARS = 2000
