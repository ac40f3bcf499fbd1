"""Codec server: lets the Temporal Web UI show decrypted payloads to those allowed to see them.

`POST /encode` and `POST /decode` take and return `{"payloads": [...]}` (Temporal's JSON form);
CORS admits the configured UI origins; with `CODEC_AUTH_TOKEN` set, requests must carry
`Authorization: Bearer <token>`. Run: `python -m codec.server`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from codec.keys import load_key_ring
from codec.payload_codec import EncryptionCodec
from settings import Settings, get_settings

log = logging.getLogger("customer_flows.codec")
MAX_BODY = 4 * 1024 * 1024
MIN_TOKEN_LENGTH = 32
READ_TIMEOUT_SECONDS = 10  # a client that sends its request slower than this is dropped
LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}


def make_handler(codec: EncryptionCodec, settings: Settings) -> type[BaseHTTPRequestHandler]:
    origins = {o.strip() for o in settings.codec_cors_origins.split(",") if o.strip()}
    token = settings.codec_auth_token.get_secret_value() if settings.codec_auth_token else None

    class CodecHandler(BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT_SECONDS

        def _cors(self) -> None:
            origin = self.headers.get("Origin")
            if origin and origin in origins:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Vary", "Origin")

        def _reply(self, status: HTTPStatus, body: bytes = b"", kind: str = "text/plain") -> None:
            self.send_response(status)
            self._cors()
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_OPTIONS(self) -> None:
            self.send_response(HTTPStatus.NO_CONTENT)
            self._cors()
            self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            requested = self.headers.get("Access-Control-Request-Headers")
            self.send_header(
                "Access-Control-Allow-Headers",
                requested or "Content-Type, Authorization, X-Namespace",
            )
            self.end_headers()

        def do_POST(self) -> None:
            path = urlsplit(self.path).path.rstrip("/")
            if path not in ("/encode", "/decode"):
                self._reply(HTTPStatus.NOT_FOUND, b"not found")
                return
            if token is not None:
                given = self.headers.get("Authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                    self._reply(HTTPStatus.UNAUTHORIZED, b"unauthorized")
                    return
            raw_length = self.headers.get("Content-Length") or "0"
            if not raw_length.isdigit():  # negative, non-numeric: never read on a guess
                self._reply(HTTPStatus.BAD_REQUEST, b"bad Content-Length")
                return
            length = int(raw_length)
            if length > MAX_BODY:
                self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"too large")
                return
            try:
                payloads = json_format.Parse(self.rfile.read(length), Payloads())
                work = codec.encode if path == "/encode" else codec.decode
                result = asyncio.run(work(list(payloads.payloads)))
            except Exception as exc:  # a bad body or an unknown key: tell the caller, not a 500
                self._reply(HTTPStatus.BAD_REQUEST, f"cannot {path[1:]}: {exc}".encode())
                return
            body = json_format.MessageToJson(Payloads(payloads=result)).encode()
            self._reply(HTTPStatus.OK, body, "application/json")

        def log_message(self, format: str, *args: object) -> None:
            log.debug(format, *args)

    return CodecHandler


def serve(settings: Settings, host: str | None = None) -> ThreadingHTTPServer:
    """The server on `host` (default `CODEC_HOST`, 127.0.0.1). Reachable from elsewhere, it
    decrypts for whoever holds the token: a missing or short token is refused there."""
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
    handler = make_handler(EncryptionCodec(ring), settings)
    return ThreadingHTTPServer((host, settings.codec_server_port), handler)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    config = get_settings()
    server = serve(config)
    log.info(
        "codec server on %s:%d (origins %s)",
        config.codec_host,
        config.codec_server_port,
        config.codec_cors_origins,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()
