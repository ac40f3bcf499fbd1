"""`customers`: the command line over `CustomerFlows`.

Every trigger runs a durable workflow and prints its result with the Web UI link of the run;
`--no-wait` prints the workflow id and returns at once, `--json` prints machine-readable output.
Errors print their type and message (no stack trace) and exit with status 1.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import click
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from customer_service.errors import CustomerModuleError, InvalidDataError
from triggers.client import CustomerFlows, FlowError

# Piped output is not cut at 80 columns: ids and emails must survive whole.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 240)

CUSTOMER_COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "company_name",
    "phone",
    "has_account",
)
ADDRESS_COLUMNS = ("id", "customer_id", "address_name", "address_1", "city", "postal_code",
                   "country_code", "is_default_shipping", "is_default_billing")  # fmt: skip
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


def parse_json(value: str | None, option: str) -> Any:
    if value is None:
        return None
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
            err.print(f"[red]error[/red] [bold]{exc.type}[/bold]: {exc.message}", highlight=False)
            err.print(f"run: {exc.workflow_id}", highlight=False)
            code = 1
        except CustomerModuleError as exc:
            err.print(f"[red]error[/red] [bold]{exc.type}[/bold]: {exc.message}", highlight=False)
            code = 1
        except (ConnectionError, OSError, RuntimeError) as exc:
            err.print(f"[red]error[/red] [bold]unavailable[/bold]: {exc}", highlight=False)
            err.print("is the stack running? start it with `make dev`", highlight=False)
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
        click.echo(json.dumps({"workflow_id": handle.id, "ui": link, "result": _plain(result)},
                              indent=2, default=str))  # fmt: skip
        return
    show(result)
    out.print(f"run: {link}", highlight=False)


async def connect(reads: bool = False) -> CustomerFlows:
    return await CustomerFlows.connect(reads=reads)


@click.group()
def main() -> None:
    """Customers, addresses and groups, changed by durable Temporal sagas."""


# --- customers -----------------------------------------------------------------------------------


def customer_data(metadata: str | None = None, **fields: str | None) -> dict[str, Any]:
    """The customer fields given on the command line (absent ones are left out)."""
    data: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    if metadata is not None:
        data["metadata"] = parse_json(metadata, "--metadata")
    return data


def customer_fields(fn: Callable[..., Any]) -> Callable[..., Any]:
    for name in ("phone", "company-name", "last-name", "first-name", "email"):
        fn = click.option(f"--{name}", default=None)(fn)
    return click.option("--metadata", default=None, help="JSON object")(fn)


@main.command()
@customer_fields
@click.option("--address", "addresses", multiple=True, help="e.g. 'city=Berlin,country_code=de'")
@trigger_options
@run_async
async def create(
    addresses: tuple[str, ...], request_id: str | None, no_wait: bool, as_json: bool,
    **fields: Any,
) -> None:  # fmt: skip
    """Create a customer (with addresses)."""
    from workflows.models import CustomersResult

    data = customer_data(**fields)
    data["addresses"] = [parse_pairs(a, "--address") for a in addresses]
    flows = await connect()
    await finish(
        flows, flows.start_create_customers([data], request_id=request_id), CustomersResult,
        no_wait, as_json,
        lambda r: show_rows(r.customers, CUSTOMER_COLUMNS, "created", False),
    )  # fmt: skip


@main.command()
@click.argument("customer_id")
@customer_fields
@trigger_options
@run_async
async def update(
    customer_id: str, request_id: str | None, no_wait: bool, as_json: bool, **fields: Any
) -> None:
    """Update a customer (only the fields given)."""
    from workflows.models import CustomersResult

    changes = customer_data(**fields)
    flows = await connect()
    await finish(
        flows, flows.start_update_customers(customer_id, changes, request_id=request_id),
        CustomersResult, no_wait, as_json,
        lambda r: show_rows(r.customers, CUSTOMER_COLUMNS, "updated", False),
    )  # fmt: skip


@main.command()
@click.argument("customer_ids", nargs=-1, required=True)
@trigger_options
@run_async
async def delete(
    customer_ids: tuple[str, ...], request_id: str | None, no_wait: bool, as_json: bool
) -> None:
    """Soft-delete customers (and their addresses)."""
    from workflows.models import IdsResult

    flows = await connect()
    await finish(
        flows, flows.start_delete_customers(list(customer_ids), request_id=request_id), IdsResult,
        no_wait, as_json, lambda r: out.print(f"deleted {', '.join(r.ids)}"),
    )  # fmt: skip


@main.command()
@click.argument("auth_identity_id")
@customer_fields
@trigger_options
@run_async
async def register(
    auth_identity_id: str, request_id: str | None, no_wait: bool, as_json: bool, **fields: Any
) -> None:
    """Register a customer account linked to an auth identity."""
    from workflows.models import CustomerResult

    data = customer_data(**fields)
    flows = await connect()
    await finish(
        flows, flows.start_register_customer(auth_identity_id, data, request_id=request_id),
        CustomerResult, no_wait, as_json,
        lambda r: show_rows([r.customer], CUSTOMER_COLUMNS, "registered", False),
    )  # fmt: skip


@main.command("remove-account")
@click.argument("customer_id")
@trigger_options
@run_async
async def remove_account(
    customer_id: str, request_id: str | None, no_wait: bool, as_json: bool
) -> None:
    """Remove a customer account (soft delete, unlink the auth identity)."""
    from workflows.models import IdsResult

    flows = await connect()
    await finish(
        flows, flows.start_remove_customer_account(customer_id, request_id=request_id),
        IdsResult, no_wait, as_json, lambda r: out.print(f"removed {r.ids[0]}"),
    )  # fmt: skip


@main.command()
@click.argument("customer_id")
@read_options
@run_async
async def get(customer_id: str, as_json: bool) -> None:
    """Show one customer with addresses and groups."""
    flows = await connect(reads=True)
    customer = await flows.retrieve_customer(customer_id, {"relations": ["addresses", "groups"]})
    if as_json:
        click.echo(json.dumps(customer.model_dump(mode="json"), indent=2))
        return
    show_rows([customer], CUSTOMER_COLUMNS, "customer", False)
    show_rows(customer.addresses or [], ADDRESS_COLUMNS, "addresses", False)
    show_rows(customer.groups or [], ("id", "name"), "groups", False)


@main.command("list")
@click.option("--q", default=None, help="Free-text search (all words must match).")
@click.option("--email", default=None)
@click.option("--group", "groups", multiple=True, help="Customers in this group id.")
@click.option("--has-account/--guest", default=None)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(0, 10_000))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@click.option("--order", default=None, help="Field; a leading '-' sorts descending.")
@click.option("--with-deleted", is_flag=True)
@read_options
@run_async
async def list_customers(
    q: str | None, email: str | None, groups: tuple[str, ...], has_account: bool | None,
    limit: int, offset: int, order: str | None, with_deleted: bool, as_json: bool,
) -> None:  # fmt: skip
    """List customers with Medusa's filters."""
    filters: dict[str, Any] = {}
    if q:
        filters["q"] = q
    if email:
        filters["email"] = email
    if groups:
        filters["groups"] = list(groups)
    if has_account is not None:
        filters["has_account"] = has_account
    config: dict[str, Any] = {"skip": offset, "take": limit, "with_deleted": with_deleted}
    if order:
        config["order"] = {order.lstrip("-"): "DESC" if order.startswith("-") else "ASC"}
    flows = await connect(reads=True)
    rows, count = await flows.list_customers(filters, config)
    show_rows(rows, CUSTOMER_COLUMNS, f"customers {offset + 1 if rows else 0}–"
              f"{offset + len(rows)} of {count}", as_json)  # fmt: skip


# --- addresses -----------------------------------------------------------------------------------


@main.group()
def address() -> None:
    """A customer's addresses."""


@address.command("add")
@click.argument("customer_id")
@click.argument("fields", nargs=-1)
@click.option("--default-shipping", is_flag=True)
@click.option("--default-billing", is_flag=True)
@trigger_options
@run_async
async def address_add(
    customer_id: str, fields: tuple[str, ...], default_shipping: bool, default_billing: bool,
    request_id: str | None, no_wait: bool, as_json: bool,
) -> None:  # fmt: skip
    """Add an address: FIELDS as key=value (city=Berlin country_code=de ...)."""
    from workflows.models import AddressesResult

    data: dict[str, Any] = {"customer_id": customer_id}
    for item in fields:
        data.update(parse_pairs(item, "FIELDS"))
    if default_shipping:
        data["is_default_shipping"] = True
    if default_billing:
        data["is_default_billing"] = True
    flows = await connect()
    await finish(
        flows, flows.start_create_addresses([data], request_id=request_id), AddressesResult,
        no_wait, as_json, lambda r: show_rows(r.addresses, ADDRESS_COLUMNS, "created", False),
    )  # fmt: skip


@address.command("update")
@click.argument("address_id")
@click.argument("fields", nargs=-1, required=True)
@trigger_options
@run_async
async def address_update(
    address_id: str, fields: tuple[str, ...], request_id: str | None, no_wait: bool, as_json: bool
) -> None:
    """Update an address: FIELDS as key=value."""
    from workflows.models import AddressesResult

    changes: dict[str, Any] = {}
    for item in fields:
        changes.update(parse_pairs(item, "FIELDS"))
    flows = await connect()
    await finish(
        flows, flows.start_update_addresses(address_id, changes, request_id=request_id),
        AddressesResult, no_wait, as_json,
        lambda r: show_rows(r.addresses, ADDRESS_COLUMNS, "updated", False),
    )  # fmt: skip


@address.command("delete")
@click.argument("address_ids", nargs=-1, required=True)
@trigger_options
@run_async
async def address_delete(
    address_ids: tuple[str, ...], request_id: str | None, no_wait: bool, as_json: bool
) -> None:
    """Delete addresses."""
    from workflows.models import IdsResult

    flows = await connect()
    await finish(
        flows, flows.start_delete_addresses(list(address_ids), request_id=request_id), IdsResult,
        no_wait, as_json, lambda r: out.print(f"deleted {', '.join(r.ids)}"),
    )  # fmt: skip


@address.command("list")
@click.argument("customer_id")
@read_options
@run_async
async def address_list(customer_id: str, as_json: bool) -> None:
    """List a customer's addresses."""
    flows = await connect(reads=True)
    rows, count = await flows.list_addresses({"customer_id": customer_id})
    show_rows(rows, ADDRESS_COLUMNS, f"{count} address(es)", as_json)


# --- groups --------------------------------------------------------------------------------------


@main.group()
def group() -> None:
    """Customer groups and their members."""


@group.command("create")
@click.argument("names", nargs=-1, required=True)
@trigger_options
@run_async
async def group_create(
    names: tuple[str, ...], request_id: str | None, no_wait: bool, as_json: bool
) -> None:
    """Create groups."""
    from workflows.models import GroupsResult

    flows = await connect()
    await finish(
        flows, flows.start_create_groups([{"name": n} for n in names], request_id=request_id),
        GroupsResult, no_wait, as_json,
        lambda r: show_rows(r.groups, GROUP_COLUMNS, "created", False),
    )  # fmt: skip


@group.command("update")
@click.argument("group_id")
@click.option("--name", default=None)
@click.option("--metadata", default=None, help="JSON object")
@trigger_options
@run_async
async def group_update(
    group_id: str, name: str | None, metadata: str | None,
    request_id: str | None, no_wait: bool, as_json: bool,
) -> None:  # fmt: skip
    """Rename a group or change its metadata."""
    from workflows.models import GroupsResult

    changes = {k: v for k, v in
               {"name": name, "metadata": parse_json(metadata, "--metadata")}.items()
               if v is not None}  # fmt: skip
    flows = await connect()
    await finish(
        flows, flows.start_update_groups(group_id, changes, request_id=request_id), GroupsResult,
        no_wait, as_json, lambda r: show_rows(r.groups, GROUP_COLUMNS, "updated", False),
    )  # fmt: skip


@group.command("delete")
@click.argument("group_ids", nargs=-1, required=True)
@trigger_options
@run_async
async def group_delete(
    group_ids: tuple[str, ...], request_id: str | None, no_wait: bool, as_json: bool
) -> None:
    """Soft-delete groups."""
    from workflows.models import IdsResult

    flows = await connect()
    await finish(
        flows, flows.start_delete_groups(list(group_ids), request_id=request_id), IdsResult,
        no_wait, as_json, lambda r: out.print(f"deleted {', '.join(r.ids)}"),
    )  # fmt: skip


@group.command("list")
@click.option("--q", default=None)
@click.option("--customer", "customers", multiple=True, help="Groups of this customer id.")
@read_options
@run_async
async def group_list(q: str | None, customers: tuple[str, ...], as_json: bool) -> None:
    """List groups."""
    filters: dict[str, Any] = {}
    if q:
        filters["q"] = q
    if customers:
        filters["customers"] = list(customers)
    flows = await connect(reads=True)
    rows, count = await flows.list_groups(filters)
    show_rows(rows, GROUP_COLUMNS, f"{count} group(s)", as_json)


def _link_command(adding: bool) -> Callable[..., Any]:
    async def command(
        group_id: str, customer_ids: tuple[str, ...],
        request_id: str | None, no_wait: bool, as_json: bool,
    ) -> None:  # fmt: skip
        from workflows.models import LinkResult

        flows = await connect()
        ids = list(customer_ids)
        start = flows.start_link_customers_to_group(
            group_id, add=ids if adding else [], remove=[] if adding else ids, request_id=request_id
        )
        await finish(
            flows, start, LinkResult, no_wait, as_json,
            lambda r: out.print(f"added {len(r.added)}, removed {len(r.removed)} membership(s)"),
        )  # fmt: skip

    return command


@group.command("add-customers")
@click.argument("group_id")
@click.argument("customer_ids", nargs=-1, required=True)
@trigger_options
@run_async
async def group_add_customers(group_id: str, customer_ids: tuple[str, ...], **kw: Any) -> None:
    """Add customers to a group (members already in it are left as they are)."""
    await _link_command(True)(group_id, customer_ids, **kw)


@group.command("remove-customers")
@click.argument("group_id")
@click.argument("customer_ids", nargs=-1, required=True)
@trigger_options
@run_async
async def group_remove_customers(group_id: str, customer_ids: tuple[str, ...], **kw: Any) -> None:
    """Remove customers from a group."""
    await _link_command(False)(group_id, customer_ids, **kw)


@main.command("groups-of")
@click.argument("customer_id")
@click.option("--add", "add", multiple=True, help="Group id to join.")
@click.option("--remove", "remove", multiple=True, help="Group id to leave.")
@trigger_options
@run_async
async def groups_of(
    customer_id: str, add: tuple[str, ...], remove: tuple[str, ...],
    request_id: str | None, no_wait: bool, as_json: bool,
) -> None:  # fmt: skip
    """Add / remove one customer's groups."""
    from workflows.models import LinkResult

    flows = await connect()
    await finish(
        flows,
        flows.start_link_groups_to_customer(
            customer_id, add=list(add), remove=list(remove), request_id=request_id
        ),
        LinkResult, no_wait, as_json,
        lambda r: out.print(f"added {len(r.added)}, removed {len(r.removed)} membership(s)"),
    )  # fmt: skip


@main.command()
@click.option("--email", default=None)
@click.option("--customer", "customer_id", default=None)
@click.option("--group", "group_id", default=None)
@click.option("--status", "saga_status", default=None,
              type=click.Choice(["running", "completed", "compensating", "compensated",
                                 "compensation_failed"]))  # fmt: skip
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@read_options
@run_async
async def runs(
    email: str | None, customer_id: str | None, group_id: str | None, saga_status: str | None,
    limit: int, as_json: bool,
) -> None:  # fmt: skip
    """Find workflow runs by customer email or id, group id or saga status."""
    flows = await connect()
    found = await flows.find_runs(
        email=email, customer_id=customer_id, group_id=group_id, saga_status=saga_status,
        limit=limit,
    )  # fmt: skip
    show_rows(found, ("workflow_id", "type", "status", "start_time", "ui"), "runs", as_json)


@main.command()
@read_options
@run_async
async def check(as_json: bool) -> None:
    """Scan the database for inconsistencies (exit 1 when any is found)."""
    flows = await connect(reads=True)
    violations = await flows.check()
    if as_json:
        click.echo(json.dumps([{"rule": v.rule, **v.detail} for v in violations], default=str))
    elif not violations:
        out.print("no violations found")
    else:
        for v in violations:
            out.print(f"[red]violation[/red] {v.rule}: {v.detail}", highlight=False)
    if violations:
        raise SystemExit(1)


# The HTTP API's commands (users, api-keys, serve).
from api.cli import add_commands  # noqa: E402

add_commands(main)

if __name__ == "__main__":
    main()
