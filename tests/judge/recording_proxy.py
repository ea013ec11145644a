"""A recording HTTP proxy on 127.0.0.1: forwards every request to one upstream server and keeps
what went through (request body, status, response body), so tests can assert what a real server
was sent and what it answered. Standard library only."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    body: Any  # the parsed JSON request body (None for GET)
    status: int
    reply: bytes

    @property
    def fields(self) -> set[str]:
        """Top-level request fields but ``messages``."""
        return set(self.body or {}) - {"messages"}


class RecordingProxy:
    """``with RecordingProxy(port) as proxy:`` → ``proxy.base_url``; ``proxy.exchanges`` in order."""

    def __init__(self, upstream_port: int, timeout_s: float = 120.0):
        self.upstream_port = upstream_port
        self.timeout_s = timeout_s
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def chats(self) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if e.path.endswith("/chat/completions")]

    def clear(self) -> None:
        with self._lock:
            self.exchanges.clear()

    def __enter__(self) -> RecordingProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=proxy.timeout_s)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=raw or None, headers=headers)
                resp = conn.getresponse()
                reply = resp.read()
                conn.close()
                body = json.loads(raw) if raw else None
                with proxy._lock:
                    proxy.exchanges.append(Exchange(self.command, self.path, body, resp.status, reply))
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.getheader("Content-Type") or "application/octet-stream")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = _forward

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
