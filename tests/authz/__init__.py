"""The authorisation matrix: what each URL allows, declared per app.

Every app adds a module here with ``RULES = {url_name: Rule(...)}``;
``tests/test_authz_matrix.py`` walks *every* URL pattern and fails for any
name no module declares.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PUBLIC = "public"  # no login needed
LOGIN = "login"  # any logged-in user; not tied to one project


@dataclass(frozen=True)
class Rule:
    """``role``: the lowest project role allowed (or PUBLIC / LOGIN).

    ``kwargs`` builds the URL arguments from the test world (it may create
    objects there). ``methods`` are the verbs to try; ``api`` marks DRF views
    (anonymous gets 401/403 rather than a redirect to the login page).
    """

    role: str
    kwargs: Callable[[Any], dict[str, Any]] = field(default=lambda world: {})
    methods: tuple[str, ...] = ("GET",)
    api: bool = False
    data: Callable[[Any], dict[str, Any]] | None = None


def all_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, rule in module.RULES.items():
            assert name not in rules, f"{name} is declared twice"
            rules[name] = rule
    return rules
