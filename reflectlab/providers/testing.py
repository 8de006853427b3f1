"""A small OpenAI-compatible server that misbehaves on request — for tests and
benchmarks, never for production.

It runs an asyncio HTTP/1.1 server (keep-alive) in a background thread on
127.0.0.1 and answers ``/v1/models``, ``/v1/chat/completions`` and
``/v1/completions`` after ``latency`` seconds. A prompt containing
``FAULT:<kind>x<n>`` fails its first *n* requests that way (``x<n>`` omitted:
always), then answers normally:

* ``429`` — 429 with ``Retry-After: <retry_after>``; ``500`` — a server error;
* ``hang`` — no answer for ``hang_seconds`` (past the client's timeout);
* ``reset`` — the connection is closed without an answer;
* ``malformed`` — 200 with a body that is not JSON; ``empty`` — ``choices: []``;
* ``400`` — a permanent client error with an OpenAI-style message;
* ``shapes`` — a good answer in odd shapes: ``choices`` an object, ``content``
  an object, a numeric ``finish_reason``, ``usage`` a list;
* ``html`` — 502 with an HTML page (a proxy's, carrying what it should not);
* ``redirect`` — 307 to another host (``Location: http://169.254.169.254/…``);
* ``nul`` — 200 whose content and reasoning hold NUL characters (``\u0000``).

It counts requests in flight and remembers the maximum, so a test can assert
that a concurrency limit was never exceeded.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter
from typing import Any

FAULT = re.compile(
    r"FAULT:(429|500|hang|reset|malformed|empty|400|shapes|html|redirect|nul)(?:x(\d+))?"
)
HTML_ERROR = b"<html><body><h1>502 Bad Gateway</h1><p>internal-db.corp:5432 token=s3cr3t</p>"
NUL_ANSWER = "<think>\nWe need 2 + 3.\x00 So 5.\n</think>\n\nThe answer is \\boxed{5}.\x00"
ANSWER = (
    "<think>\nWe need 2 + 3.\n\n2 + 3 = 5.\n\nWait, let me double-check: 3 + 2 = 5.\n"
    "</think>\n\nThe answer is \\boxed{5}."
)
CONTINUATION = "So the sum is 5 after all.\n</think>\n\nThe answer is \\boxed{5}."


class FakeOpenAIServer:
    def __init__(
        self,
        *,
        latency: float = 0.0,
        retry_after: float = 0.1,
        hang_seconds: float = 5.0,
        reasoning_field: bool = False,
        model: str = "fake-model",
    ):
        self.latency = latency
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.reasoning_field = reasoning_field
        self.model = model
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # of every request, /models included
        self.attempts: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-openai", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- HTTP ------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                method, path, _ = request_line.decode("latin-1").split(" ", 2)
                headers = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", 0) or 0))
                with self._lock:
                    self.headers.append(headers)
                keep = await self._respond(method, path, body, writer)
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()

    @staticmethod
    async def _send(
        writer: asyncio.StreamWriter,
        status: int,
        payload: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        reason = {200: "OK", 307: "Temporary Redirect", 400: "Bad Request", 404: "Not Found",
                  429: "Too Many Requests", 502: "Bad Gateway"}.get(status, "Internal Server Error")  # fmt: skip
        head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(payload)}"]
        if not any(k.lower() == "content-type" for k in headers or {}):
            head.append("Content-Type: application/json")
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await writer.drain()

    async def _respond(self, method: str, path: str, body: bytes, writer) -> bool:
        if method == "GET" and path.rstrip("/").endswith("/models"):
            data = {"object": "list", "data": [{"id": self.model, "object": "model"}]}
            await self._send(writer, 200, json.dumps(data).encode())
            return True
        if method != "POST" or not path.endswith(("/chat/completions", "/completions")):
            await self._send(writer, 404, b'{"error": {"message": "not found"}}')
            return True
        request = json.loads(body or b"{}")
        chat = path.endswith("/chat/completions")
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._generate(request, chat, writer)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _fault_for(self, text: str) -> str | None:
        match = FAULT.search(text)
        with self._lock:
            self.attempts[text] += 1
            attempt = self.attempts[text]
        if not match:
            return None
        kind, times = match.group(1), match.group(2)
        if times is None or attempt <= int(times):
            with self._lock:
                self.faults[kind] += 1
            return kind
        return None

    async def _generate(self, request: dict[str, Any], chat: bool, writer) -> bool:
        if chat:
            messages = request.get("messages") or []
            text = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
        else:
            text = str(request.get("prompt", ""))
        fault = self._fault_for(text)
        if fault == "reset":
            writer.transport.abort()
            return False
        if fault == "hang":
            await asyncio.sleep(self.hang_seconds)
            return False
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault == "429":
            await self._send(
                writer,
                429,
                b'{"error": {"message": "Rate limit reached, slow down"}}',
                {"Retry-After": f"{self.retry_after:g}"},
            )
            return True
        if fault == "500":
            await self._send(writer, 500, b'{"error": {"message": "upstream model crashed"}}')
            return True
        if fault == "400":
            await self._send(
                writer, 400, b'{"error": {"message": "max_tokens is too large for this model"}}'
            )
            return True
        if fault == "html":
            await self._send(writer, 502, HTML_ERROR, {"Content-Type": "text/html"})
            return True
        if fault == "redirect":
            location = "http://169.254.169.254/latest/meta-data/"
            await self._send(writer, 307, b"", {"Location": location})
            return True
        if fault == "nul":
            completion = self._completion(request, chat)
            choice = completion["choices"][0]
            if chat:
                choice["message"] = {"role": "assistant", "content": NUL_ANSWER,
                                     "reasoning_content": "think\x00ing"}  # fmt: skip
            else:
                choice["text"] = NUL_ANSWER
            await self._send(writer, 200, json.dumps(completion).encode())
            return True
        if fault == "malformed":
            await self._send(writer, 200, b'{"choices": [{"message": ')
            return True
        if fault == "empty":
            payload = {"id": "x", "object": "chat.completion", "choices": [], "model": self.model}
            await self._send(writer, 200, json.dumps(payload).encode())
            return True
        payload = self._completion(request, chat)
        if fault == "shapes" and chat:
            choice = payload["choices"][0]
            choice["message"]["content"] = {"type": "text", "text": choice["message"]["content"]}
            choice["finish_reason"] = 0
            payload["choices"], payload["usage"] = choice, [12, 34]
        await self._send(writer, 200, json.dumps(payload).encode())
        return True

    def _completion(self, request: dict[str, Any], chat: bool) -> dict[str, Any]:
        usage = {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46}
        base = {"id": f"cmpl-{time.monotonic_ns()}", "created": int(time.time())}
        if not chat:
            choice = {"index": 0, "text": CONTINUATION, "finish_reason": "stop"}
            if request.get("logprobs"):
                choice["logprobs"] = {
                    "tokens": ["So", " the"],
                    "token_logprobs": [-0.1, -0.2],
                    "top_logprobs": [{"So": -0.1, "Thus": -2.5}, {" the": -0.2, " a": -1.9}],
                }
            return {**base, "object": "text_completion", "model": self.model,
                    "choices": [choice], "usage": usage}  # fmt: skip
        if request.get("continue_final_message"):
            message = {"role": "assistant", "content": CONTINUATION}
        elif self.reasoning_field:
            thinking, _, answer = ANSWER.removeprefix("<think>\n").partition("\n</think>\n\n")
            message = {"role": "assistant", "content": answer, "reasoning_content": thinking}
        else:
            message = {"role": "assistant", "content": ANSWER}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        if request.get("logprobs"):
            choice["logprobs"] = {
                "content": [
                    {
                        "token": "We",
                        "logprob": -0.05,
                        "top_logprobs": [
                            {"token": "We", "logprob": -0.05},
                            {"token": "I", "logprob": -3.1},
                        ],
                    }
                ]
            }
        return {**base, "object": "chat.completion", "model": self.model,
                "choices": [choice], "usage": usage}  # fmt: skip
