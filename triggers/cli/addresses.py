"""`customers address add|update|delete|list`: a customer's addresses."""

from __future__ import annotations

from typing import Any

import click

from triggers.cli.common import (
    ADDRESS_COLUMNS,
    connect,
    finish,
    main,
    out,
    parse_pairs,
    read_options,
    run_async,
    show_rows,
    trigger_options,
)


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
    customer_id: str,
    fields: tuple[str, ...],
    default_shipping: bool,
    default_billing: bool,
    request_id: str | None,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Add an address: FIELDS as key=value (city=Berlin country_code=de ...)."""
    from workflows.contracts import AddressesResult

    data: dict[str, Any] = {"customer_id": customer_id}
    for item in fields:
        data.update(parse_pairs(item, "FIELDS"))
    if default_shipping:
        data["is_default_shipping"] = True
    if default_billing:
        data["is_default_billing"] = True
    flows = await connect()
    await finish(
        flows,
        flows.start_create_addresses([data], request_id=request_id),
        AddressesResult,
        no_wait,
        as_json,
        lambda r: show_rows(r.addresses, ADDRESS_COLUMNS, "created", False),
    )


@address.command("update")
@click.argument("address_id")
@click.argument("fields", nargs=-1, required=True)
@trigger_options
@run_async
async def address_update(
    address_id: str, fields: tuple[str, ...], request_id: str | None, no_wait: bool, as_json: bool
) -> None:
    """Update an address: FIELDS as key=value."""
    from workflows.contracts import AddressesResult

    changes: dict[str, Any] = {}
    for item in fields:
        changes.update(parse_pairs(item, "FIELDS"))
    flows = await connect()
    await finish(
        flows,
        flows.start_update_addresses(address_id, changes, request_id=request_id),
        AddressesResult,
        no_wait,
        as_json,
        lambda r: show_rows(r.addresses, ADDRESS_COLUMNS, "updated", False),
    )


@address.command("delete")
@click.argument("address_ids", nargs=-1, required=True)
@trigger_options
@run_async
async def address_delete(
    address_ids: tuple[str, ...], request_id: str | None, no_wait: bool, as_json: bool
) -> None:
    """Delete addresses."""
    from workflows.contracts import IdsResult

    flows = await connect()
    await finish(
        flows,
        flows.start_delete_addresses(list(address_ids), request_id=request_id),
        IdsResult,
        no_wait,
        as_json,
        lambda r: out.print(f"deleted {', '.join(r.ids)}"),
    )


@address.command("list")
@click.argument("customer_id")
@read_options
@run_async
async def address_list(customer_id: str, as_json: bool) -> None:
    """List a customer's addresses."""
    flows = await connect(reads=True)
    rows, count = await flows.list_addresses({"customer_id": customer_id})
    show_rows(rows, ADDRESS_COLUMNS, f"{count} address(es)", as_json)
