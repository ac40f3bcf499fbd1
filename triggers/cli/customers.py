"""`customers create|update|delete|register|remove-account|get|list`, `runs` and `check`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.markup import escape

from customer_service.schemas import MAX_METADATA_DEPTH
from triggers.cli.common import (
    ADDRESS_COLUMNS,
    CUSTOMER_COLUMNS,
    connect,
    finish,
    main,
    out,
    parse_json,
    parse_pairs,
    read_options,
    run_async,
    show_rows,
    trigger_options,
)


def customer_data(metadata: str | None = None, **fields: str | None) -> dict[str, Any]:
    """The customer fields given on the command line (absent ones are left out)."""
    data: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    if metadata is not None:
        data["metadata"] = parse_json(metadata, "--metadata", MAX_METADATA_DEPTH)
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
    addresses: tuple[str, ...],
    request_id: str | None,
    no_wait: bool,
    as_json: bool,
    **fields: Any,
) -> None:
    """Create a customer (with addresses)."""
    from workflows.contracts import CustomersResult

    data = customer_data(**fields)
    data["addresses"] = [parse_pairs(a, "--address") for a in addresses]
    flows = await connect()
    await finish(
        flows,
        flows.start_create_customers([data], request_id=request_id),
        CustomersResult,
        no_wait,
        as_json,
        lambda r: show_rows(r.customers, CUSTOMER_COLUMNS, "created", False),
    )


@main.command()
@click.argument("customer_id")
@customer_fields
@trigger_options
@run_async
async def update(
    customer_id: str, request_id: str | None, no_wait: bool, as_json: bool, **fields: Any
) -> None:
    """Update a customer (only the fields given)."""
    from workflows.contracts import CustomersResult

    changes = customer_data(**fields)
    flows = await connect()
    await finish(
        flows,
        flows.start_update_customers(customer_id, changes, request_id=request_id),
        CustomersResult,
        no_wait,
        as_json,
        lambda r: show_rows(r.customers, CUSTOMER_COLUMNS, "updated", False),
    )


@main.command()
@click.argument("customer_ids", nargs=-1, required=True)
@trigger_options
@run_async
async def delete(
    customer_ids: tuple[str, ...], request_id: str | None, no_wait: bool, as_json: bool
) -> None:
    """Soft-delete customers (and their addresses)."""
    from workflows.contracts import IdsResult

    flows = await connect()
    await finish(
        flows,
        flows.start_delete_customers(list(customer_ids), request_id=request_id),
        IdsResult,
        no_wait,
        as_json,
        lambda r: out.print(f"deleted {', '.join(r.ids)}"),
    )


@main.command()
@click.argument("auth_identity_id")
@customer_fields
@trigger_options
@run_async
async def register(
    auth_identity_id: str, request_id: str | None, no_wait: bool, as_json: bool, **fields: Any
) -> None:
    """Register a customer account linked to an auth identity."""
    from workflows.contracts import CustomerResult

    data = customer_data(**fields)
    flows = await connect()
    await finish(
        flows,
        flows.start_register_customer(auth_identity_id, data, request_id=request_id),
        CustomerResult,
        no_wait,
        as_json,
        lambda r: show_rows([r.customer], CUSTOMER_COLUMNS, "registered", False),
    )


@main.command("remove-account")
@click.argument("customer_id")
@trigger_options
@run_async
async def remove_account(
    customer_id: str, request_id: str | None, no_wait: bool, as_json: bool
) -> None:
    """Remove a customer account (soft delete, unlink the auth identity)."""
    from workflows.contracts import IdsResult

    flows = await connect()
    await finish(
        flows,
        flows.start_remove_customer_account(customer_id, request_id=request_id),
        IdsResult,
        no_wait,
        as_json,
        lambda r: out.print(f"removed {r.ids[0]}"),
    )


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
    q: str | None,
    email: str | None,
    groups: tuple[str, ...],
    has_account: bool | None,
    limit: int,
    offset: int,
    order: str | None,
    with_deleted: bool,
    as_json: bool,
) -> None:
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
    show_rows(
        rows,
        CUSTOMER_COLUMNS,
        f"customers {offset + 1 if rows else 0}–{offset + len(rows)} of {count}",
        as_json,
    )


@main.command()
@click.option("--email", default=None)
@click.option("--customer", "customer_id", default=None)
@click.option("--group", "group_id", default=None)
@click.option(
    "--status",
    "saga_status",
    default=None,
    type=click.Choice(
        ["running", "completed", "compensating", "compensated", "compensation_failed"]
    ),
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@read_options
@run_async
async def runs(
    email: str | None,
    customer_id: str | None,
    group_id: str | None,
    saga_status: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Find workflow runs by customer email or id, group id or saga status."""
    flows = await connect()
    found = await flows.find_runs(
        email=email,
        customer_id=customer_id,
        group_id=group_id,
        saga_status=saga_status,
        limit=limit,
    )
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
            out.print(
                f"[red]violation[/red] {escape(v.rule)}: {escape(str(v.detail))}",
                highlight=False,
                markup=True,
            )
    if violations:
        raise SystemExit(1)
