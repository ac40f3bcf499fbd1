"""The one error edge of the HTTP API: domain errors, failed runs, validation errors and anything
unexpected become Medusa's `{type, message}` envelope with Medusa's status codes. No stack trace,
SQL or exception text of an unexpected error ever reaches a response (or a log line)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import WorkflowHandle

from customer_service.errors import CustomerModuleError
from customer_service.validation import invalid_data
from triggers.client import FlowError

log = logging.getLogger("customer_flows.api")

# Medusa's error handler (packages/medusa/src/api/middlewares/error-handler.ts) plus our own.
STATUS = {
    "invalid_data": 400,
    "not_allowed": 400,
    "unauthorized": 401,
    "not_found": 404,
    "conflict": 409,
    "duplicate_error": 422,
    "too_many_requests": 429,
}
UNKNOWN = {"type": "unknown_error", "message": "An unknown error occurred."}


class Unauthenticated(Exception):
    """No valid credentials for a protected route: Medusa's bare 401 `{"message": "Unauthorized"}`."""


class Accepted(Exception):
    """The write was started and the caller asked not to wait (`Prefer: respond-async`)."""

    def __init__(self, handle: WorkflowHandle[Any, Any]) -> None:
        super().__init__(handle.id)
        self.handle = handle


def envelope(status: int, type_: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"type": type_, "message": message, **extra}, status_code=status)


def _domain(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CustomerModuleError)
    status = STATUS.get(exc.type)
    if status is None:  # unexpected_state and anything unmapped: Medusa's 500
        log.error("unexpected domain error of type %s", exc.type)
        return JSONResponse(UNKNOWN, status_code=500)
    headers = {"Retry-After": "60"} if status == 429 else None
    response = envelope(status, exc.type, exc.message)
    if headers:
        response.headers.update(headers)
    return response


def _flow(_: Request, exc: Exception) -> JSONResponse:
    """A run that failed: its business error as Medusa words it; a run that could not undo its
    steps (or failed otherwise) is a 500 naming the workflow, so an operator can find it."""
    assert isinstance(exc, FlowError)
    status = STATUS.get(exc.type)
    if status is not None:
        return envelope(status, exc.type, exc.message)
    log.error("run %s failed as %s", exc.workflow_id, exc.type)
    if exc.type == "CompensationFailed":
        return envelope(
            500,
            "compensation_failed",
            "The change failed and could not be fully undone; an operator has been told.",
            workflow_id=exc.workflow_id,
        )
    return JSONResponse({**UNKNOWN, "workflow_id": exc.workflow_id}, status_code=500)


def _validation(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's body errors, worded by the one formatter (`customer_service.validation`)."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return envelope(400, "invalid_data", "Invalid request: malformed JSON body")
    try:
        lines: Any = [
            {"type": e["type"], "loc": tuple(e["loc"][1:]), "input": e.get("input")}
            | ({"ctx": e["ctx"]} if "ctx" in e else {})
            for e in errors[:1]
        ]
        message = invalid_data(ValidationError.from_exception_data("body", lines)).message
    except (KeyError, TypeError, ValueError):
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "body"
        message = f"Invalid request: Invalid {where}"
    return envelope(400, "invalid_data", message)


def _unauthenticated(_: Request, __: Exception) -> JSONResponse:
    return JSONResponse({"message": "Unauthorized"}, status_code=401)


def _accepted(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Accepted)
    handle = exc.handle
    run_id = handle.result_run_id or handle.run_id
    location = f"/admin/workflows-executions/{handle.id}"
    return JSONResponse(
        {"workflow_id": handle.id, "run_id": run_id},
        status_code=202,
        headers={"Location": location},
    )


def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    type_ = {404: "not_found", 405: "not_allowed"}.get(exc.status_code, "invalid_data")
    message = "Route not found" if exc.status_code == 404 else str(exc.detail)
    return envelope(exc.status_code, type_, message)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CustomerModuleError, _domain)
    app.add_exception_handler(FlowError, _flow)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(Accepted, _accepted)
    app.add_exception_handler(HTTPException, _http)


class ShieldMiddleware:
    """The last resort: an exception no handler took becomes Medusa's 500 `unknown_error`, logged
    by type only (its text may hold SQL or PII) — Starlette's own would log the traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error("unhandled %s on %s %s", type(exc).__name__, scope["method"], scope["path"])
            if started:
                raise
            response = JSONResponse(UNKNOWN, status_code=500)
            await response(scope, receive, send)
