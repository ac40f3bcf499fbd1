"""`python -m api` (or `customers serve`): the HTTP API on API_HOST:API_PORT (127.0.0.1:9000)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from api.app import create_app
from auth.tokens import resolve_jwt_secret
from settings import get_settings


def serve(host: str | None = None, port: int | None = None) -> None:
    settings = get_settings()
    try:
        resolve_jwt_secret(settings)  # refuse to start without one, before anything connects
    except RuntimeError as exc:
        sys.exit(f"error: {exc}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        proxy_headers=True,
        server_header=False,
        timeout_keep_alive=5,
        access_log=False,  # request lines carry query strings, and queries can name emails
    )


if __name__ == "__main__":
    serve()
