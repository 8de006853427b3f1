"""A fake judge server whose answers are scripted — for tests and benchmarks.

It is the providers' ``FakeOpenAIServer`` (latency, fault injection, in-flight
counting) with one change: the chat answer is ``script(user_text)``, so a test
decides what the "judge" says about each trace (by its problem text, which the
rendered prompt contains).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reflectlab.providers.testing import FakeOpenAIServer


class ScriptedJudgeServer(FakeOpenAIServer):
    def __init__(self, script: Callable[[str], str], **kwargs):
        super().__init__(**kwargs)
        self.script = script

    def _completion(self, request: dict[str, Any], chat: bool) -> dict[str, Any]:
        payload = super()._completion(request, chat)
        if chat:
            text = "\n".join(
                str(m.get("content", "")) for m in request.get("messages") or []
                if m.get("role") == "user"
            )  # fmt: skip
            payload["choices"][0]["message"] = {"role": "assistant", "content": self.script(text)}
        return payload
