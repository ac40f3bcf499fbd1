"""Bodies rendered as they are: the customer, address and group routes return dicts built from
the module's DTOs (`shapes.dump`), already in their response model's shape. `JSONRoute` renders
such a dict with orjson instead of validating it again against the route's response model (which
still documents the answer: OpenAPI at /docs) and encoding that."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import orjson
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.responses import Response


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        # UTC datetimes end in Z, as pydantic (and Medusa) write them.
        return orjson.dumps(content, default=_default, option=orjson.OPT_UTC_Z)


def _rendered(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the endpoint's own signature through this
    async def render(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result if isinstance(result, Response) else JSONBody(result)

    return render


class JSONRoute(APIRoute):
    """A route whose handler's return value is the body, rendered by `JSONBody`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _rendered(endpoint), **kwargs)
