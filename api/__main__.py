"""`python -m api` (or `customers serve`): the HTTP API on API_HOST:API_PORT (127.0.0.1:9000), in
API_WORKERS uvicorn worker processes (0, the default: one per CPU core, up to 4)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from auth.tokens import resolve_jwt_secret
from settings import Settings, get_settings
from supervision import die_with_parent

MAX_AUTO_WORKERS = 4
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def worker_count(settings: Settings) -> int:
    return settings.api_workers or max(1, min(os.cpu_count() or 1, MAX_AUTO_WORKERS))


def app_from_environment() -> FastAPI:
    """What each worker process serves: the app composed from the environment's settings. A
    worker uvicorn started (API_WORKERS > 1) ends with its supervisor, even one killed."""
    if multiprocessing.parent_process() is not None:
        die_with_parent()
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    return create_app(get_settings())


def serve(host: str | None = None, port: int | None = None, workers: int | None = None) -> None:
    settings = get_settings()
    try:
        resolve_jwt_secret(settings)  # refuse to start without one, before anything connects
    except RuntimeError as exc:
        sys.exit(f"error: {exc}")
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    uvicorn.run(
        # An import string: each worker process composes its own app (engine, Temporal client).
        "api.__main__:app_from_environment",
        factory=True,
        workers=workers or worker_count(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        proxy_headers=True,
        server_header=False,
        timeout_keep_alive=5,
        access_log=False,  # request lines carry query strings, and queries can name emails
    )


if __name__ == "__main__":
    serve()
