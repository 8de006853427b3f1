"""math-verify in a few child processes, each call under a hard timeout.

Why processes: a parse or comparison can run for ever *inside C code that
holds the GIL* — ``9^{9^{9^{9}}}`` makes sympy compute a number with more
digits than there are atoms — so no thread, signal or ``timeout=`` in this
process can stop it, and grading runs in run threads, model workers and
request threads. A child that overruns is killed (SIGKILL) and replaced; the
caller gets ``TIMED_OUT`` after at most ``timeout`` seconds of the child's
work, whatever it was doing.

The children are plain ``python -m reflectlab.analysis.verifier`` processes
speaking JSON lines over their pipes — no fork of a threaded parent, no pickle,
no re-import of the parent's ``__main__``. Inside a child math-verify runs in
the main thread, so its own ``signal.alarm`` timeouts work as a first line.

Pure Python, no Django. ``REFLECTLAB_GRADE_WORKERS`` (default 2) children at
most per process, started on first use; ``REFLECTLAB_GRADE_TIMEOUT`` (default
5 s) per call.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import selectors
import subprocess
import sys
import threading
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

try:
    import resource  # Unix only: the CPU-time backstop below
except ImportError:  # pragma: no cover
    resource = None

TIMED_OUT = "timed_out"
_ROOT = str(Path(__file__).resolve().parents[2])  # the directory holding reflectlab/
_INNER_TIMEOUT = 3  # math-verify's own alarm, inside the child
_STARTUP_TIMEOUT = 120.0
_CHILD_CPU_SECONDS = 60  # a backstop for a child whose parent is gone


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class _Child:
    def __init__(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([_ROOT, os.environ.get("PYTHONPATH", "")]),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reflectlab.analysis.verifier"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=_ROOT,
        )
        self.stdin: IO[bytes] = self.process.stdin  # type: ignore[assignment]
        self.stdout: IO[bytes] = self.process.stdout  # type: ignore[assignment]
        # The child says "ready" once math-verify is imported: its start-up
        # (about a second) never counts against a call's timeout.
        if _readline(self.stdout, _STARTUP_TIMEOUT) != b"ready\n":
            self.kill()
            raise OSError("the grading process did not start")

    def ask(self, gold: str, answer: str, timeout: float) -> bool | str | None:
        """The verdict, or TIMED_OUT (the caller then kills this child)."""
        self.stdin.write(json.dumps([gold, answer]).encode() + b"\n")
        self.stdin.flush()
        line = _readline(self.stdout, timeout)
        if line is None:
            return TIMED_OUT
        if not line:
            raise EOFError("the grading process died")
        return json.loads(line)["r"]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.stdin.close()
        self.stdout.close()


def _readline(stream: Any, timeout: float) -> bytes | None:
    """One line within ``timeout`` seconds; ``None`` when it did not come."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            return None
    return stream.readline()


class VerifierPool:
    """At most ``size`` children; a caller waits for a free one (no clock runs then)."""

    def __init__(self, size: int, timeout: float):
        self.size = max(1, size)
        self.timeout = timeout
        self._idle: list[_Child] = []
        self._started = 0
        self._cond = threading.Condition()
        self.calls = self.timeouts = self.crashes = 0

    def _take(self) -> _Child | None:
        with self._cond:
            while not self._idle and self._started >= self.size:
                self._cond.wait()
            if self._idle:
                return self._idle.pop()
            self._started += 1
        try:
            return _Child()
        except OSError:
            self._give_back(None)
            return None  # cannot start a child here: grade as unknown
        except BaseException:
            self._give_back(None)
            raise

    def _give_back(self, child: _Child | None) -> None:
        with self._cond:
            if child is None:
                self._started -= 1
            else:
                self._idle.append(child)
            self._cond.notify()

    def verify(self, gold: str, answer: str) -> bool | str | None:
        child = self._take()
        if child is None:
            with self._cond:
                self.crashes += 1
            return None
        try:
            verdict = child.ask(gold, answer, self.timeout)
        except (OSError, EOFError, ValueError, KeyError):
            child.kill()
            self._give_back(None)
            with self._cond:
                self.crashes += 1
            return None
        except BaseException:
            child.kill()  # interrupted mid-call: the child's state is unknown
            self._give_back(None)
            raise
        with self._cond:
            self.calls += 1
        if verdict == TIMED_OUT:
            child.kill()
            self._give_back(None)
            with self._cond:
                self.timeouts += 1
            return TIMED_OUT
        self._give_back(child)
        return verdict

    def clear_caches(self) -> None:
        """Empty the idle children's caches (benchmarks measure cold grading)."""
        with self._cond:
            idle = list(self._idle)
        for child in idle:
            child.ask("", "", self.timeout)  # an empty gold is the "clear" request

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._started -= len(idle)
        for child in idle:
            child.kill()


_pool: VerifierPool | None = None
_pool_lock = threading.Lock()
_pool_pid = 0


def pool() -> VerifierPool:
    """This process's pool (a forked child gets its own, never its parent's pipes)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = VerifierPool(
                int(_env_float("REFLECTLAB_GRADE_WORKERS", 2)),
                _env_float("REFLECTLAB_GRADE_TIMEOUT", 5.0),
            )
            _pool_pid = os.getpid()
        return _pool


@atexit.register
def _close() -> None:
    if _pool is not None and _pool_pid == os.getpid():
        _pool.close()


# -- the child ----------------------------------------------------------------------


def _cpu_budget(seconds: int) -> None:
    """Let the kernel kill this child (SIGXCPU) past ``seconds`` more CPU time:
    the bound holds even when the parent died and nobody is left to kill it."""
    if resource is None:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = used + seconds if hard == resource.RLIM_INFINITY else min(hard, used + seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _serve() -> None:
    # Imported here, in the child only: sympy and the LaTeX parser take a second to load.
    from math_verify import parse, verify

    @lru_cache(maxsize=65536)
    def parsed(value: str) -> tuple[Any, ...]:
        result = parse(f"\\boxed{{{value}}}", parsing_timeout=_INNER_TIMEOUT)
        return tuple(result or parse(f"${value}$", parsing_timeout=_INNER_TIMEOUT))

    logging.disable(logging.WARNING)  # math-verify logs every unreadable answer
    out = sys.stdout.buffer
    out.write(b"ready\n")
    out.flush()
    for line in sys.stdin.buffer:
        _cpu_budget(_CHILD_CPU_SECONDS)
        try:
            gold, answer = json.loads(line)
            if not gold:
                parsed.cache_clear()
                verdict = None
            else:
                a, b = parsed(gold), parsed(answer)
                ok = a and b and verify(list(a), list(b), timeout_seconds=_INNER_TIMEOUT)
                verdict = bool(ok) if a and b else None
        except BaseException:  # math-verify raises anything, its timeouts included
            verdict = None
        out.write(json.dumps({"r": verdict}).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    _serve()
