"""Codec server: lets the Temporal Web UI show decrypted payloads to those allowed to see them.

`POST /encode` and `POST /decode` take and return `{"payloads": [...]}` (Temporal's JSON form).
It runs on the HTTP API's stack: an ASGI app (Starlette, which FastAPI is) served by uvicorn,
with Starlette's CORS middleware admitting the configured UI origins, a body-size limit, and
deadlines for the request head and body. Run: `python -m codec.server`.

With `CODEC_AUTH_TOKEN` set, a request must carry `Authorization: Bearer <token>` (tools), or the
session cookie an operator gets by typing the token once into `GET /login`: the Web UI sends it
with `TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true` (the compose configuration; the UI's
pass-access-token mode needs an OIDC login and an https endpoint, see docs/security.md). The
cookie is stateless (an expiry signed with the token), HttpOnly and SameSite=Strict: the UI and
the codec server are the same site (one host, two ports), other sites cannot use it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from codec.keys import load_key_ring
from codec.payload_codec import EncryptionCodec
from settings import Settings, get_settings

log = logging.getLogger("customer_flows.codec")
MAX_BODY = 4 * 1024 * 1024
MIN_TOKEN_LENGTH = 32
READ_TIMEOUT_SECONDS = 10.0  # a client that sends its request slower than this is dropped
LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}
SESSION_COOKIE = "codec_session"
SESSION_SECONDS = 8 * 3600
LOGIN_PAGE = """<!doctype html><title>codec server</title>
<form method="post" action="/login"><label>Codec token
<input type="password" name="token" autocomplete="off" autofocus></label>
<button type="submit">Sign in</button></form>"""


def _signature(token: str, expiry: int) -> str:
    return hmac.new(token.encode(), f"codec-session:{expiry}".encode(), hashlib.sha256).hexdigest()


def session_cookie(token: str, now: float | None = None) -> str:
    """A session value: its expiry and the expiry signed with the token."""
    expiry = int(now if now is not None else time.time()) + SESSION_SECONDS
    return f"{expiry}.{_signature(token, expiry)}"


def allowed(request: Request, token: str | None) -> bool:
    """The bearer token, or a session cookie signed with it that has not expired."""
    if token is None:
        return True
    given = request.headers.get("authorization", "")
    if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    expiry, _, signature = request.cookies.get(SESSION_COOKIE, "").partition(".")
    if not expiry.isdigit() or int(expiry) < time.time():
        return False
    return hmac.compare_digest(signature.encode(), _signature(token, int(expiry)).encode())


class _Refused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


class BodyLimit:
    """ASGI middleware: a Content-Length that is not a plain number is a 400 (never read on a
    guess), a body over `max_body` a 413 (declared or streamed), and a body that does not arrive
    within `timeout` seconds ends the request with a 408."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            try:
                message = await asyncio.wait_for(receive(), READ_TIMEOUT_SECONDS)
            except TimeoutError:
                raise _Refused(408, "request body too slow") from None
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise _Refused(413, "too large")
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            if declared is not None and not declared.isdigit():
                raise _Refused(400, "bad Content-Length")
            if declared is not None and int(declared) > self.max_body:
                raise _Refused(413, "too large")
            await self.app(scope, limited, tracked)
        except _Refused as refused:
            if not started:
                await PlainTextResponse(refused.text, refused.status)(scope, receive, send)


class HeadDeadline(HttpToolsProtocol):
    """uvicorn's HTTP protocol, with a deadline on each request's head: a client that opens a
    connection (or starts a request) and sends its headers slower than READ_TIMEOUT_SECONDS is
    disconnected (uvicorn itself only times out idle keep-alive connections)."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(READ_TIMEOUT_SECONDS, self.transport.close)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


def create_app(codec: EncryptionCodec, settings: Settings) -> Starlette:
    origins = [o.strip() for o in settings.codec_cors_origins.split(",") if o.strip()]
    token = settings.codec_auth_token.get_secret_value() if settings.codec_auth_token else None

    async def endpoint(request: Request) -> Response:
        if not allowed(request, token):
            return PlainTextResponse("unauthorized", 401)
        what = request.url.path.strip("/")
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
            work = codec.encode if what == "encode" else codec.decode
            result = await work(list(payloads.payloads))
        except _Refused:
            raise
        except Exception as exc:  # a bad body or an unknown key: tell the caller, not a 500
            return PlainTextResponse(f"cannot {what}: {type(exc).__name__}", 400)
        body = json_format.MessageToJson(Payloads(payloads=result))
        return Response(body, media_type="application/json")

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(LOGIN_PAGE)
        given = parse_qs((await request.body()).decode(errors="replace")).get("token", [""])[0]
        if token is None or not hmac.compare_digest(given.encode(), token.encode()):
            return HTMLResponse(LOGIN_PAGE, 401)
        page = HTMLResponse("<!doctype html><title>codec server</title>signed in")
        page.set_cookie(
            SESSION_COOKIE,
            session_cookie(token),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return page

    routes = [Route(f"/{what}", endpoint, methods=["POST"]) for what in ("encode", "decode")]
    routes.append(Route("/login", login, methods=["GET", "POST"]))
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["Content-Type", "Authorization", "X-Namespace"],
            allow_credentials=True,
        ),
        Middleware(BodyLimit),
    ]
    return Starlette(routes=routes, middleware=middleware)


def serve(settings: Settings, host: str | None = None, **config: Any) -> uvicorn.Server:
    """The server (not yet running) on `host` (default `CODEC_HOST`, 127.0.0.1). Reachable from
    elsewhere, it decrypts for whoever holds the token: a missing or short token is refused."""
    host = host or settings.codec_host
    ring = load_key_ring(settings)
    if ring is None:
        raise SystemExit("the codec server needs a PII key (PII_KEYS or PII_KEY_FILE)")
    token = settings.codec_auth_token.get_secret_value() if settings.codec_auth_token else ""
    if host not in LOCAL_HOSTS and len(token) < MIN_TOKEN_LENGTH:
        raise SystemExit(
            f"the codec server on {host} needs CODEC_AUTH_TOKEN of at least "
            f"{MIN_TOKEN_LENGTH} characters (or bind it to 127.0.0.1)"
        )
    app = create_app(EncryptionCodec(ring), settings)
    options: dict[str, Any] = {
        "host": host,
        "port": settings.codec_server_port,
        "http": HeadDeadline,
        "timeout_keep_alive": 5,
        "server_header": False,
        "access_log": False,
        "log_level": "warning",
        **config,
    }
    return uvicorn.Server(uvicorn.Config(app, **options))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    config = get_settings()
    log.info(
        "codec server on %s:%d (origins %s)",
        config.codec_host,
        config.codec_server_port,
        config.codec_cors_origins,
    )
    serve(config).run()
