"""`make run` stops the web server *and* the Celery worker on SIGTERM (issue 14).

It used to leave the worker (and runserver) running: the recipe's shell
deferred its trap while runserver ran in the foreground.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_to_make_run_stops_web_and_worker(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(PORT=str(port), DJANGO_SETTINGS_MODULE="reflectlab.settings")
    log = (tmp_path / "make-run.log").open("w")
    make = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180  # migrate + demo on a fresh clone, then both start
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail(
                "make run did not answer /healthz: " + (tmp_path / "make-run.log").read_text()
            )
        os.kill(make.pid, signal.SIGTERM)
        make.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _group_alive(make.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = subprocess.run(
            ["ps", "-o", "pid=,args=", "-g", str(make.pid)], capture_output=True, text=True
        ).stdout
        assert not _group_alive(make.pid), f"still running after SIGTERM:\n{left}"
    finally:
        if _group_alive(make.pid):
            os.killpg(make.pid, signal.SIGKILL)
