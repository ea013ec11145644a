"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests, benchmarks and offline demos.

It speaks just enough of the API for the judge: ``POST /v1/chat/completions`` and ``GET /v1/models``.
A *script* decides each reply from the parsed request::

    def script(req: FakeRequest) -> Action:
        return Reply("<think>looks fine</think>\\nScore: 4")

    with FakeJudgeServer(script) as server:
        config = JudgeConfig(base_url=server.base_url, api_key="test")

Actions: :class:`Reply` (with optional ``reasoning`` in ``reasoning`` or ``reasoning_content`` and an
optional delay), :class:`Status` (an HTTP error such as 500 or 429 with ``Retry-After``), :class:`Raw`
(any body, e.g. a proxy's HTML page) and :class:`Drop` (close the connection without answering). The server counts calls and the most
requests in flight at once, and stops by itself after ``lifetime_s`` even if nobody stops it.
Standard library only.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union

__all__ = ["FakeJudgeServer", "FakeRequest", "Reply", "Status", "Raw", "Drop", "Action"]


@dataclass(frozen=True)
class Reply:
    content: str | None
    reasoning: str | None = None
    reasoning_field: str = "reasoning"  # or "reasoning_content" (older vLLM)
    delay_s: float = 0.0
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Status:
    code: int
    message: str = "scripted error"
    retry_after: float | None = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class Raw:
    """Any HTTP reply: a proxy's HTML error page, a cut or non-JSON body."""

    body: bytes
    code: int = 200
    content_type: str = "text/html"
    delay_s: float = 0.0


@dataclass(frozen=True)
class Drop:
    """Close the connection without sending a response (after ``delay_s``)."""

    delay_s: float = 0.0


Action = Union[Reply, Status, Raw, Drop]


@dataclass
class FakeRequest:
    """A parsed chat request, as the script sees it."""

    body: dict[str, Any]
    headers: dict[str, str]
    call_index: int

    @property
    def user_parts(self) -> list[dict]:
        for m in self.body.get("messages", []):
            if m.get("role") == "user" and isinstance(m.get("content"), list):
                return m["content"]
        return []

    @property
    def video_bytes(self) -> bytes | None:
        """Bytes of the first ``video_url`` data URL, if any."""
        for p in self.user_parts:
            if p.get("type") == "video_url":
                return base64.b64decode(p["video_url"]["url"].split(",", 1)[1])
        return None

    @property
    def image_bytes(self) -> list[bytes]:
        return [
            base64.b64decode(p["image_url"]["url"].split(",", 1)[1])
            for p in self.user_parts
            if p.get("type") == "image_url"
        ]

    @property
    def text(self) -> str:
        return "\n".join(p.get("text", "") for p in self.user_parts if p.get("type") == "text")

    @property
    def seed(self) -> int | None:
        return self.body.get("seed")


@dataclass
class _Stats:
    calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    requests: list[FakeRequest] = field(default_factory=list)
    # every HTTP request of any kind, as (method, path, Authorization header): what a test that
    # must prove "nothing was sent" looks at
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # the default listen backlog of 5 drops bursts of new connections (1 s SYN retry)


class FakeJudgeServer:
    """Threaded HTTP server on 127.0.0.1 (free port) that answers with ``script(request)``.

    Use as a context manager; it also shuts down after ``lifetime_s`` seconds on its own.
    ``keep_requests=False`` avoids holding request bodies (for benchmarks).
    """

    def __init__(
        self,
        script: Callable[[FakeRequest], Action],
        *,
        models: tuple[str, ...] = ("nvidia/Cosmos-Reason2-8B",),
        owned_by: str = "fake",
        max_model_len: int | None = None,
        version: str | None = None,
        lifetime_s: float = 120.0,
        keep_requests: bool = True,
        parse_body: bool = True,
    ):
        self.script = script
        self.models = models
        self.owned_by = owned_by
        self.max_model_len = max_model_len  # listed per model, as vLLM does
        self.version = version  # answer GET /version with it, as vLLM does
        self.lifetime_s = lifetime_s
        self.keep_requests = keep_requests
        self.parse_body = parse_body
        self.stats = _Stats()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    # -- public
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def calls(self) -> int:
        return self.stats.calls

    @property
    def seen(self) -> list[tuple[str, str, str | None]]:
        """Every request received (listings included): (method, path, Authorization header)."""
        return list(self.stats.seen)

    @property
    def max_in_flight(self) -> int:
        return self.stats.max_in_flight

    @property
    def requests(self) -> list[FakeRequest]:
        return self.stats.requests

    def reset(self) -> None:
        with self._lock:
            self.stats = _Stats()

    def start(self) -> FakeJudgeServer:
        handler = _make_handler(self)
        httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.lifetime_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeJudgeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- called from handler threads
    def _saw(self, method: str, path: str, authorization: str | None) -> None:
        with self._lock:
            self.stats.seen.append((method, path, authorization))

    def _enter(self, body: dict, headers: dict) -> FakeRequest:
        with self._lock:
            self.stats.calls += 1
            self.stats.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
            req = FakeRequest(body, headers, self.stats.calls - 1)
            if self.keep_requests:
                self.stats.requests.append(req)
            return req

    def _leave(self) -> None:
        with self._lock:
            self.stats.in_flight -= 1


def _completion(model: str, action: Reply) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": action.content}
    if action.reasoning is not None:
        message[action.reasoning_field] = action.reasoning
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": action.finish_reason, "logprobs": None}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _make_handler(server: FakeJudgeServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms ACK stall

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _send_json(self, code: int, payload: dict, headers: dict[str, str] | None = None) -> None:
            self._send_bytes(code, json.dumps(payload).encode("utf-8"), "application/json", headers)

        def _send_bytes(self, code: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            server._saw("GET", self.path, self.headers.get("Authorization"))
            if self.path.rstrip("/").endswith("/models"):
                extra = {} if server.max_model_len is None else {"max_model_len": server.max_model_len}
                self._send_json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": server.owned_by, **extra} for m in server.models
                ]})
            elif self.path.rstrip("/") == "/version" and server.version is not None:
                self._send_json(200, {"version": server.version})
            else:
                self._send_json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            server._saw("POST", self.path, self.headers.get("Authorization"))
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                body = json.loads(raw) if server.parse_body else {}
            except ValueError:
                self._send_json(400, {"error": {"message": "body is not JSON"}})
                return
            req = server._enter(body, {k.lower(): v for k, v in self.headers.items()})
            try:
                try:
                    action = server.script(req)
                except Exception as exc:  # a broken script answers 500 rather than hanging the client
                    action = Status(500, f"script error: {exc!r}")
                if action.delay_s:
                    time.sleep(action.delay_s)
                try:
                    if isinstance(action, Drop):
                        self.close_connection = True
                        try:
                            self.connection.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                    elif isinstance(action, Raw):
                        self._send_bytes(action.code, action.body, action.content_type)
                    elif isinstance(action, Status):
                        headers = {"Retry-After": f"{action.retry_after:g}"} if action.retry_after is not None else {}
                        self._send_json(action.code, {"error": {"message": action.message, "code": action.code}}, headers)
                    else:
                        self._send_json(200, _completion(body.get("model", "fake"), action))
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # client gave up (timeout): nothing to do
            finally:
                server._leave()

    return Handler


def main(argv: list[str] | None = None) -> int:
    """``python -m cosmos_bench.judge.fake_server``: a stand-alone fixed-reply judge endpoint.

    Prints ``READY <base_url>`` once listening; stops after ``--lifetime`` seconds, on SIGTERM/SIGINT,
    or when its stdin closes (so a parent that dies takes it along). For benchmarks (its own process,
    so its CPU does not share the caller's GIL) and for trying the CLI offline.
    """
    import argparse
    import signal
    import sys

    ap = argparse.ArgumentParser(description="Scripted OpenAI-compatible judge endpoint on 127.0.0.1")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    ap.add_argument("--reply", default="<think>The motion looks plausible.</think>\nScore: 4")
    ap.add_argument("--lifetime", type=float, default=600.0, help="stop after this many seconds")
    ap.add_argument("--watch-stdin", action="store_true", help="stop when stdin reaches EOF")
    args = ap.parse_args(argv)

    done = threading.Event()
    server = FakeJudgeServer(
        lambda req: Reply(args.reply, delay_s=args.latency),
        lifetime_s=args.lifetime,
        keep_requests=False,
        parse_body=False,
    ).start()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    if args.watch_stdin:
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    print(f"READY {server.base_url}", flush=True)
    deadline = time.monotonic() + args.lifetime
    while not done.is_set() and time.monotonic() < deadline:
        done.wait(0.2)
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
