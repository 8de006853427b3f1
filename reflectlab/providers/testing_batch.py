"""A small OpenAI-compatible *batch* server — for tests, never for production.

It answers, on 127.0.0.1 in a background thread, the part of the OpenAI Batch
API that ``runs.batch_remote`` uses (the same subset vLLM's and Together's
batch front-ends offer):

* ``POST /v1/files`` (multipart ``file`` + ``purpose=batch``) → ``{"id": "file-…"}``;
* ``POST /v1/batches`` ``{input_file_id, endpoint, completion_window}`` → a batch;
* ``GET /v1/batches/{id}`` → ``validating`` → ``in_progress`` → ``completed``, one
  step per poll (``polls_to_finish``), then with ``output_file_id`` and
  ``error_file_id``;
* ``GET /v1/files/{id}/content`` → the file's bytes.

Each request line is answered like ``testing.FakeOpenAIServer`` answers a chat
request; a prompt containing ``FAULT:500`` gets an HTTP 500 line instead, and
``FAULT:error`` an ``error`` object in the error file. Output lines come in
reverse order, as real batch servers give no order guarantee.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reflectlab.providers.testing import ANSWER


class FakeBatchServer:
    def __init__(self, *, polls_to_finish: int = 2, model: str = "fake-model"):
        self.polls_to_finish = polls_to_finish
        self.model = model
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self.auth: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeBatchServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, status: int, payload: bytes, kind: str = "application/json"):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                fake.auth.append(self.headers.get("Authorization", ""))
                status, payload, kind = fake.get(self.path)
                self._send(status, payload, kind)

            def do_POST(self) -> None:
                fake.auth.append(self.headers.get("Authorization", ""))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = fake.post(self.path, self.headers.get("Content-Type", ""), body)
                self._send(status, payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeBatchServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the API ------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}-{next(self._ids)}"

    def post(self, path: str, content_type: str, body: bytes) -> tuple[int, bytes]:
        if path.rstrip("/").endswith("/files"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + body
            )
            parts = {
                p.get_param("name", header="content-disposition"): p for p in message.iter_parts()
            }
            if "file" not in parts or parts.get("purpose") is None:
                return 400, b'{"error": {"message": "file and purpose are required"}}'
            file_id = self._new_id("file")
            self.files[file_id] = parts["file"].get_payload(decode=True)
            return 200, json.dumps({"id": file_id, "object": "file", "purpose": "batch"}).encode()
        if path.rstrip("/").endswith("/batches"):
            request = json.loads(body or b"{}")
            if request.get("input_file_id") not in self.files:
                return 400, b'{"error": {"message": "no such input file"}}'
            batch_id = self._new_id("batch")
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": request.get("endpoint"),
                "input_file_id": request["input_file_id"],
                "completion_window": request.get("completion_window"),
                "status": "validating",
                "output_file_id": None,
                "error_file_id": None,
            }
            self.polls[batch_id] = 0
            return 200, json.dumps(self.batches[batch_id]).encode()
        return 404, b'{"error": {"message": "not found"}}'

    def get(self, path: str) -> tuple[int, bytes, str]:
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[1] == "batches" and parts[2] in self.batches:
            return 200, json.dumps(self._advance(parts[2])).encode(), "application/json"
        if (
            len(parts) == 4
            and parts[1] == "files"
            and parts[3] == "content"
            and parts[2] in self.files
        ):
            return 200, self.files[parts[2]], "application/octet-stream"
        return 404, b'{"error": {"message": "not found"}}', "application/json"

    def _advance(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        self.polls[batch_id] += 1
        if batch["status"] == "completed":
            return batch
        if self.polls[batch_id] < self.polls_to_finish:
            batch["status"] = "in_progress"
            return batch
        output, errors = [], []
        for raw in self.files[batch["input_file_id"]].splitlines():
            if raw.strip():
                line = json.loads(raw)
                (errors if "FAULT:error" in raw.decode() else output).append(self._answer(line))
        batch["output_file_id"] = self._store(reversed(output))
        batch["error_file_id"] = self._store(errors) if errors else None
        batch["status"] = "completed"
        return batch

    def _store(self, lines) -> str:
        file_id = self._new_id("file")
        self.files[file_id] = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
        return file_id

    def _answer(self, line: dict[str, Any]) -> dict[str, Any]:
        text = json.dumps(line["body"].get("messages"))
        base = {"id": self._new_id("req"), "custom_id": line["custom_id"]}
        if "FAULT:error" in text:
            return {**base, "response": None,
                    "error": {"code": "invalid_request", "message": "prompt rejected"}}  # fmt: skip
        if "FAULT:500" in text:
            body = {"error": {"message": "upstream model crashed"}}
            return {**base, "response": {"status_code": 500, "body": body}, "error": None}
        body = {
            "id": f"chatcmpl-{base['id']}",
            "object": "chat.completion",
            "model": line["body"].get("model", self.model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46},
        }
        return {**base, "response": {"status_code": 200, "body": body}, "error": None}
