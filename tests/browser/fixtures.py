"""Shared Playwright fixtures: the system Chromium against pytest-django's live server.

Playwright cannot download browsers here; it drives ``/usr/bin/chromium``
(``apt-get install -y chromium``). Without it every browser test is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("REFLECTLAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pw-123456"  # tests.factories.UserFactory's password
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

# Any of these firing means model output ran as code.
PWNED_TRAP = """
(() => {
  Object.defineProperty(window, "__pwned", {
    configurable: false,
    get() { return window.__pwnedHits || 0; },
    set(v) { window.__pwnedHits = (window.__pwnedHits || 0) + 1; },
  });
  for (const name of ["alert", "confirm", "prompt"]) {
    window[name] = function () { window.__pwnedHits = (window.__pwnedHits || 0) + 1; };
  }
})();
"""


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install -y chromium")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1500, "height": 950}}


def login(page, live_server, user, password: str = PASSWORD) -> None:
    """Log ``user`` in through the real login form."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("form [type=submit]")
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url, "login failed"


@pytest.fixture
def trap(page):
    """Arm the page: any script run by model output, or any dialog, is recorded.

    ``trap.hits()`` counts writes to ``window.__pwned`` and alert/confirm/prompt
    calls; ``trap.dialogs`` lists dialogs the browser opened.
    """

    class Trap:
        dialogs: list[str] = []

        def hits(self) -> int:
            return page.evaluate("window.__pwnedHits || 0")

    t = Trap()
    t.dialogs = []
    page.add_init_script(PWNED_TRAP)

    def on_dialog(dialog):
        if dialog.type != "beforeunload":  # the workspace's own "unsaved changes" guard
            t.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return t


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
