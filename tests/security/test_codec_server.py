"""The codec server decrypts PII for whoever it lets in: local by default, a strong token when
reachable from elsewhere, malformed requests answered 400, slow clients dropped (docs/security.md)."""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from pydantic import SecretStr

import codec.server
from codec.server import serve
from devstack.ports import free_port
from settings import Settings

TOKEN = "t" * 40


def settings(**update: object) -> Settings:
    key = base64.b64encode(os.urandom(32)).decode()
    base = Settings(pii_keys=f"k1:{key}", pii_tag_key_id="k1", codec_server_port=free_port())
    return base.model_copy(update=update)


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    monkeypatch.setattr(codec.server, "READ_TIMEOUT_SECONDS", 1)
    server = serve(settings(codec_auth_token=SecretStr(TOKEN)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_binds_localhost_by_default(running: ThreadingHTTPServer) -> None:
    assert running.server_address[0] == "127.0.0.1"


@pytest.mark.parametrize("token", [None, "", "short-token"])
def test_non_local_bind_needs_a_strong_token(token: str | None) -> None:
    secret = None if token is None else SecretStr(token)
    with pytest.raises(SystemExit, match="CODEC_AUTH_TOKEN"):
        serve(settings(codec_auth_token=secret), host="0.0.0.0")
    server = serve(settings(codec_auth_token=SecretStr(TOKEN)), host="0.0.0.0")
    server.server_close()


def _exchange(server: ThreadingHTTPServer, request: bytes) -> bytes:
    with socket.create_connection(server.server_address[:2], timeout=5) as conn:
        conn.sendall(request)
        return conn.recv(4096)


@pytest.mark.parametrize("length", ["-5", "abc", "1e3", " 12"])
def test_bad_content_length_is_a_400(running: ThreadingHTTPServer, length: str) -> None:
    request = (
        f"POST /decode HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()
    assert _exchange(running, request).startswith(b"HTTP/1.0 400")


def test_a_slow_client_is_dropped(running: ThreadingHTTPServer) -> None:
    with socket.create_connection(running.server_address[:2], timeout=5) as conn:
        conn.sendall(b"POST /decode HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        started = time.monotonic()
        assert conn.recv(4096) == b""  # the server closed the connection
        assert time.monotonic() - started < 4
