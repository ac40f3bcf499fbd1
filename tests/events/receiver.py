"""A real HTTP receiver on 127.0.0.1 for webhook tests: records every request, verifies its
signature the way docs/events.md tells receivers to, and can answer 503 on demand."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check (docs/events.md): recompute the HMAC over id, timestamp and body."""
    delivery_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    expected = hmac.new(
        secret.encode(), f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(headers.get("webhook-signature", ""), f"v1={expected}")


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    status: int
    received: float = field(default_factory=time.time)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`fail_first`: answer 503 that many times first to each delivery; `down`: always 503;
    `delay`: seconds each request takes (a window for a worker to die mid-delivery)."""

    requests: list[Request] = field(default_factory=list)
    fail_first: int = 0
    down: bool = False
    delay: float = 0.0
    _failures: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks"

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            delivery = headers.get("webhook-id", "")
            failed = self._failures.get(delivery, 0)
            status = 200
            if self.down or failed < self.fail_first:
                self._failures[delivery] = failed + 1
                status = 503
            self.requests.append(Request(headers, body, status))
            return status

    def accepted(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.status == 200]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver.answer(headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
