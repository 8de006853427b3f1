from tests.dashboards.conftest import _fresh_cache

__all__ = ["_fresh_cache"]
