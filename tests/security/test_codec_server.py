"""The codec server decrypts PII for whoever it lets in: local by default, a strong token when
reachable from elsewhere, malformed requests answered 400, oversized ones 413, slow clients
dropped, CORS by Starlette's middleware (docs/security.md). A real uvicorn server each time."""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

import codec.server
from codec.server import MAX_BODY, serve
from devstack.ports import free_port
from settings import Settings
from tests.helpers import serving

TOKEN = "t" * 40
ORIGIN = "http://127.0.0.1:8080"


def settings(**update: object) -> Settings:
    key = base64.b64encode(os.urandom(32)).decode()
    base = Settings(
        pii_keys=f"k1:{key}",
        pii_tag_key_id="k1",
        codec_server_port=free_port(),
        codec_cors_origins=ORIGIN,
    )
    return base.model_copy(update=update)


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(codec.server, "READ_TIMEOUT_SECONDS", 1.0)
    with serving(serve(settings(codec_auth_token=SecretStr(TOKEN)))) as server:
        yield server


def _address(server: Any) -> tuple[str, int]:
    return server.config.host, server.config.port


def test_binds_localhost_by_default(running: Any) -> None:
    assert running.config.host == "127.0.0.1"
    [sock] = [s for srv in running.servers for s in srv.sockets]
    assert sock.getsockname()[0] == "127.0.0.1"


@pytest.mark.parametrize("token", [None, "", "short-token"])
def test_non_local_bind_needs_a_strong_token(token: str | None) -> None:
    secret = None if token is None else SecretStr(token)
    with pytest.raises(SystemExit, match="CODEC_AUTH_TOKEN"):
        serve(settings(codec_auth_token=secret), host="0.0.0.0")
    assert serve(settings(codec_auth_token=SecretStr(TOKEN)), host="0.0.0.0").config.host


def _exchange(server: Any, request: bytes) -> bytes:
    with socket.create_connection(_address(server), timeout=5) as conn:
        conn.sendall(request)
        return conn.recv(4096)


def _post(length: str, extra: str = "") -> bytes:
    return (
        f"POST /decode HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n{extra}"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("length", ["-5", "abc", "1e3", "+12"])
def test_bad_content_length_is_a_400(running: Any, length: str) -> None:
    assert _exchange(running, _post(length)).startswith(b"HTTP/1.1 400")


def test_an_oversized_body_is_a_413_before_it_is_read(running: Any) -> None:
    assert _exchange(running, _post(str(MAX_BODY + 1))).startswith(b"HTTP/1.1 413")


def test_cors_admits_only_the_ui_origin(running: Any) -> None:
    def preflight(origin: str) -> bytes:
        return _exchange(
            running,
            f"OPTIONS /decode HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\n"
            "Access-Control-Request-Method: POST\r\n"
            "Access-Control-Request-Headers: authorization\r\n\r\n".encode(),
        )

    admitted = preflight(ORIGIN)
    assert admitted.startswith(b"HTTP/1.1 200")
    assert f"access-control-allow-origin: {ORIGIN}".encode() in admitted.lower()
    refused = preflight("http://evil.example")
    assert refused.startswith(b"HTTP/1.1 400")
    assert b"evil.example" not in refused.lower().split(b"\r\n\r\n")[0]


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /decode HTTP/1.1\r\nHost: x\r\n",  # a head that never ends
        _post("100"),  # a body that never comes
    ],
)
def test_a_slow_client_is_dropped(running: Any, request_bytes: bytes) -> None:
    with socket.create_connection(_address(running), timeout=5) as conn:
        conn.sendall(request_bytes)
        started = time.monotonic()
        answer = conn.recv(4096)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - started < 4


def _request(server: Any, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
    import http.client

    conn = http.client.HTTPConnection(*_address(server), timeout=5)
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_the_ui_session_cookie_comes_only_from_the_token(running: Any) -> None:
    """The compose UI sends credentials, not the token: the session cookie from `/login`."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    wrong = _request(running, "POST", "/login", b"token=guess", form)
    assert wrong.status == 401 and wrong.getheader("set-cookie") is None
    right = _request(running, "POST", "/login", f"token={TOKEN}".encode(), form)
    cookie = right.getheader("set-cookie")
    assert right.status == 200 and "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    session = cookie.split(";")[0]
    body = b'{"payloads": []}'
    ok = _request(running, "POST", "/decode", body, {"Cookie": session, "Origin": ORIGIN})
    assert ok.status == 200
    assert ok.getheader("access-control-allow-credentials") == "true"
    assert ok.getheader("access-control-allow-origin") == ORIGIN
    expiry, signature = session.split("=", 1)[1].split(".")
    forged = [
        f"{codec.server.SESSION_COOKIE}={int(expiry) + 1}.{signature}",  # a longer life
        f"{codec.server.SESSION_COOKIE}={codec.server.session_cookie('x' * 40)}",  # another key
        f"{codec.server.SESSION_COOKIE}={codec.server.session_cookie(TOKEN, now=0)}",  # expired
    ]
    for cookie_value in forged:
        assert _request(running, "POST", "/decode", body, {"Cookie": cookie_value}).status == 401
