"""What every `customers` command shares: the `main` group, output (tables or JSON), parsing of
key=value options, the run-and-wait helper, and the error edge (`run_async`)."""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import click
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from customer_service.errors import CustomerModuleError, InvalidDataError
from settings import ConfigurationError
from triggers.client import CustomerFlows, FlowError

# Piped output is not cut at 80 columns: ids and emails must survive whole. Printed text is
# customer data, ids and messages, never markup (a group named "[/]" or "[link=...]" prints as
# is): the few styled lines ask for markup=True and escape what they interpolate.
out = Console(soft_wrap=True, markup=False, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, soft_wrap=True, markup=False, width=None if sys.stderr.isatty() else 240)

CUSTOMER_COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "company_name",
    "phone",
    "has_account",
)
ADDRESS_COLUMNS = (
    "id",
    "customer_id",
    "address_name",
    "address_1",
    "city",
    "postal_code",
    "country_code",
    "is_default_shipping",
    "is_default_billing",
)
GROUP_COLUMNS = ("id", "name", "created_at")


def parse_pairs(spec: str, option: str) -> dict[str, Any]:
    """'city=Berlin,country_code=de' → {'city': 'Berlin', 'country_code': 'de'}."""
    result: dict[str, Any] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InvalidDataError(
                f"Malformed {option} {spec!r}: expected key=value pairs separated by commas",
                field=option,
            )
        value = value.strip()
        result[key.strip()] = {"true": True, "false": False}.get(value.lower(), value)
    return result


def json_too_deep(text: str, limit: int) -> bool:
    """Whether JSON `text` nests objects / arrays more than `limit` levels, found by counting
    brackets outside strings: nothing recursive runs on input that is too deep."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def parse_json(value: str | None, option: str, max_depth: int) -> Any:
    """JSON from an option, at most `max_depth` levels deep (checked before parsing)."""
    if value is None:
        return None
    if json_too_deep(value, max_depth):
        raise InvalidDataError(
            f"Invalid request: Invalid {option}: must be nested at most {max_depth} levels deep",
            field=option,
        )
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidDataError(f"Malformed {option}: {exc.msg}", field=option) from None


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def show_rows(rows: Sequence[Any], columns: Sequence[str], title: str, as_json: bool) -> None:
    data = [_plain(r) for r in rows]
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in data:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    out.print(table)


def _error(kind: str | None, message: str) -> None:
    """One error line; the message (which may quote user input) is text, not markup."""
    label = f" [bold]{escape(kind)}[/bold]" if kind else ""
    err.print(f"[red]error[/red]{label}: {escape(message)}", highlight=False, markup=True)


_UNREACHABLE_ERRNOS = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` says a server did not answer: a refused or dropped connection, or the
    Temporal client failing to connect. Anything else (a RecursionError is a RuntimeError too)
    is a bug to show as such, not a hint that the stack is down."""
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    if isinstance(exc, OSError):
        return exc.errno in _UNREACHABLE_ERRNOS or "Connect call failed" in str(exc)
    return type(exc) is RuntimeError and str(exc).startswith("Failed client connect")


def run_async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run the async command; turn every expected failure into one clear line and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        code = 0
        try:
            asyncio.run(fn(*args, **kwargs))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except FlowError as exc:
            _error(exc.type, exc.message)
            err.print(f"run: {exc.workflow_id}", highlight=False)
            code = 1
        except CustomerModuleError as exc:
            _error(exc.type, exc.message)
            code = 1
        except ConfigurationError as exc:
            _error(None, str(exc))
            code = 1
        except (ConnectionError, OSError, RuntimeError) as exc:
            if unreachable(exc):
                _error("unavailable", str(exc))
                err.print("is the stack running? start it with `make dev`", highlight=False)
            else:
                _error("internal", f"{type(exc).__name__}: {exc}")
            code = 1
        # Exit without interpreter finalisation: the Temporal client's native runtime threads can
        # abort a normal shutdown ("PyGILState_Release ... finalizing"), which would turn a
        # finished command into a crash. Everything is flushed first; nothing else is pending.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    return wrapper


def trigger_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)
    fn = click.option("--no-wait", is_flag=True, help="Start the run, print its id, return.")(fn)
    fn = click.option(
        "--request-id", default=None, help="Idempotency key: a repeat returns the first result."
    )(fn)
    return fn


def read_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)


async def finish(
    flows: CustomerFlows,
    start: Awaitable[Any],
    result_type: type[BaseModel],
    no_wait: bool,
    as_json: bool,
    show: Callable[[Any], None],
) -> None:
    """Start a run, then either print its id (--no-wait) or wait, print the result and link."""
    handle = await start
    link = flows.ui_link(handle.id)
    if no_wait:
        if as_json:
            click.echo(json.dumps({"workflow_id": handle.id, "ui": link}))
        else:
            out.print(f"started {handle.id}\nrun: {link}", highlight=False)
        return
    with err.status(f"running {handle.id} …"):
        result = await flows._result(handle, result_type)
    if as_json:
        click.echo(
            json.dumps(
                {"workflow_id": handle.id, "ui": link, "result": _plain(result)},
                indent=2,
                default=str,
            )
        )
        return
    show(result)
    out.print(f"run: {link}", highlight=False)


async def connect(reads: bool = False) -> CustomerFlows:
    return await CustomerFlows.connect(reads=reads)


@click.group()
def main() -> None:
    """Customers, addresses and groups, changed by durable Temporal sagas."""
