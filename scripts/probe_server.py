#!/usr/bin/env python3
"""Probe an OpenAI-compatible server: shapes, reasoning split, quirks, latency, concurrency.

    .venv-model/bin/python scripts/probe_server.py [BASE_URL] [--model ID] [--json]

BASE_URL defaults to $REFLECTLAB_TEST_OPENAI_BASE_URL or http://127.0.0.1:8011/v1.
Needs only httpx. Exits non-zero if a basic check (chat, stream, completions) fails.
Every request is bounded (timeout 60 s) and only goes to BASE_URL.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time

import httpx

CHAT = [{"role": "user", "content": "What is 2+2?"}]
RAW_PROMPT = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n2+2 is 5. Hint: recheck that."


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "base_url",
        nargs="?",
        default=os.environ.get("REFLECTLAB_TEST_OPENAI_BASE_URL", "http://127.0.0.1:8011/v1"),
    )
    ap.add_argument("--model", default=None, help="model id (default: first of /models)")
    ap.add_argument("--json", action="store_true", help="print one JSON report instead of text")
    args = ap.parse_args()
    base = args.base_url.rstrip("/")
    report: dict = {"base_url": base}
    failures: list[str] = []
    c = httpx.Client(base_url=base, timeout=60)

    def post(path: str, body: dict) -> tuple[int, object, float]:
        t0 = time.perf_counter()
        try:
            with httpx.Client(base_url=base, timeout=60) as cc:  # fresh connection per request
                r = cc.post(path, json=body)
        except httpx.HTTPError as e:
            return -1, f"{type(e).__name__}: {e}", time.perf_counter() - t0
        dt = time.perf_counter() - t0
        try:
            return r.status_code, r.json(), dt
        except ValueError:
            return r.status_code, r.text, dt

    models = c.get("/models").json()
    report["models"] = models
    model = args.model or models["data"][0]["id"]

    # chat, non-streaming
    code, body, dt = post("/chat/completions", {"model": model, "messages": CHAT, "max_tokens": 32})
    report["chat"] = {"status": code, "seconds": round(dt, 3), "body": body}
    if code != 200 or not isinstance(body, dict) or "choices" not in body:
        failures.append("chat")
    else:
        msg = body["choices"][0]["message"]
        if not (msg.get("content") or msg.get("reasoning_content") or msg.get("reasoning")):
            failures.append("chat: empty message")

    # chat, streaming
    chunks = []
    t0 = time.perf_counter()
    ttft = None
    with c.stream(
        "POST",
        "/chat/completions",
        json={"model": model, "messages": CHAT, "max_tokens": 32, "stream": True},
    ) as r:
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data.strip() == "[DONE]":
                chunks.append("[DONE]")
                break
            if ttft is None:
                ttft = time.perf_counter() - t0
            chunks.append(json.loads(data))
    dicts = [ch for ch in chunks if isinstance(ch, dict)]
    report["stream"] = {
        "status": r.status_code,
        "seconds": round(time.perf_counter() - t0, 3),
        "first_chunk_seconds": round(ttft or 0, 3),
        "n_chunks": len(chunks),
        "ends_with_DONE": chunks[-1:] == ["[DONE]"],
        "first": dicts[0] if dicts else None,
        "second": dicts[1] if len(dicts) > 1 else None,
        "last": dicts[-1] if dicts else None,
        "reasoning": "".join(
            ch["choices"][0]["delta"].get("reasoning_content") or ""
            for ch in dicts
            if ch.get("choices")
        ),
        "content": "".join(
            ch["choices"][0]["delta"].get("content") or "" for ch in dicts if ch.get("choices")
        ),
    }
    if r.status_code != 200 or not dicts:
        failures.append("stream")

    # raw completions (continuation mode b)
    code, body, dt = post("/completions", {"model": model, "prompt": RAW_PROMPT, "max_tokens": 32})
    report["completions"] = {"status": code, "seconds": round(dt, 3), "body": body}
    if code != 200 or not isinstance(body, dict) or "choices" not in body:
        failures.append("completions")

    # quirks: what is accepted, ignored, rejected
    quirks = {}
    probes = {
        "chat logprobs+top_logprobs": (
            "/chat/completions",
            {
                "model": model,
                "messages": CHAT,
                "max_tokens": 4,
                "logprobs": True,
                "top_logprobs": 2,
            },
        ),
        "completions logprobs": (
            "/completions",
            {"model": model, "prompt": "Hint:", "max_tokens": 4, "logprobs": 2},
        ),
        "continue_final_message": (
            "/chat/completions",
            {
                "model": model,
                "max_tokens": 8,
                "continue_final_message": True,
                "add_generation_prompt": False,
                "messages": [*CHAT, {"role": "assistant", "content": "<think>\n2+2 is"}],
            },
        ),
        "n=2": ("/chat/completions", {"model": model, "messages": CHAT, "max_tokens": 4, "n": 2}),
        "top_k (vLLM extra)": (
            "/chat/completions",
            {"model": model, "messages": CHAT, "max_tokens": 4, "top_k": 5},
        ),
        "stop": (
            "/chat/completions",
            {"model": model, "messages": CHAT, "max_tokens": 32, "stop": [" answer"]},
        ),
        "seed": (
            "/chat/completions",
            {"model": model, "messages": CHAT, "max_tokens": 4, "seed": 1, "temperature": 1.0},
        ),
        "empty messages": ("/chat/completions", {"model": model, "messages": [], "max_tokens": 4}),
        "wrong model id": (
            "/chat/completions",
            {"model": "no-such-model", "messages": CHAT, "max_tokens": 4},
        ),
        "enable_thinking": (
            "/chat/completions",
            {
                "model": model,
                "messages": CHAT,
                "max_tokens": 32,
                "chat_template_kwargs": {"enable_thinking": True},
            },
        ),
    }
    for name, (path, req) in probes.items():
        code, body, dt = post(path, req)
        if isinstance(body, dict) and "choices" in body:
            ch = body["choices"]
            summary = {
                "n_choices": len(ch),
                "finish_reason": ch[0].get("finish_reason"),
                "has_logprobs": any(x.get("logprobs") for x in ch),
                "message_or_text": ch[0].get("message", ch[0].get("text")),
            }
        else:
            summary = body if isinstance(body, dict) else str(body)[:200]
        quirks[name] = {"status": code, "result": summary}
    report["quirks"] = quirks

    # latency: sequential max_tokens=32 (the tiny model may stop earlier; see usage)
    lat = []
    for _ in range(5):
        _, body, dt = post(
            "/chat/completions", {"model": model, "messages": CHAT, "max_tokens": 32}
        )
        lat.append(dt)
    lat_c = []
    for _ in range(3):
        _, b, dt = post(
            "/completions", {"model": model, "prompt": "Count: 1 2 3", "max_tokens": 32}
        )
        lat_c.append(
            (dt, b.get("usage", {}).get("completion_tokens") if isinstance(b, dict) else None)
        )
    report["latency"] = {
        "chat_max32_seconds": [round(x, 3) for x in lat],
        "chat_median": round(statistics.median(lat), 3),
        "chat_completion_tokens": body.get("usage", {}).get("completion_tokens")
        if isinstance(body, dict)
        else None,
        "completions_seconds_and_tokens": [(round(a, 3), b) for a, b in lat_c],
    }

    # concurrency: 4 requests at once
    results: list = [None] * 4

    def worker(i: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as cc:
            t0 = time.perf_counter()
            rr = cc.post(
                "/chat/completions", json={"model": model, "messages": CHAT, "max_tokens": 32}
            )
            results[i] = (rr.status_code, round(time.perf_counter() - t0, 3))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    report["concurrent_4"] = {"wall_seconds": round(time.perf_counter() - t0, 3), "each": results}
    if any(r is None or r[0] != 200 for r in results):
        failures.append("concurrency")

    report["failures"] = failures
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
    else:
        for k, v in report.items():
            print(f"== {k}\n{json.dumps(v, indent=1, ensure_ascii=False)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
