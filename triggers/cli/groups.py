"""`customers group …` (groups and their members) and `customers groups-of` (one customer's
groups)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from customer_service.schemas import MAX_METADATA_DEPTH
from triggers.cli.common import (
    GROUP_COLUMNS,
    connect,
    finish,
    main,
    out,
    parse_json,
    read_options,
    run_async,
    show_rows,
    trigger_options,
)


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
    from workflows.contracts import GroupsResult

    flows = await connect()
    await finish(
        flows,
        flows.start_create_groups([{"name": n} for n in names], request_id=request_id),
        GroupsResult,
        no_wait,
        as_json,
        lambda r: show_rows(r.groups, GROUP_COLUMNS, "created", False),
    )


@group.command("update")
@click.argument("group_id")
@click.option("--name", default=None)
@click.option("--metadata", default=None, help="JSON object")
@trigger_options
@run_async
async def group_update(
    group_id: str,
    name: str | None,
    metadata: str | None,
    request_id: str | None,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Rename a group or change its metadata."""
    from workflows.contracts import GroupsResult

    changes = {
        k: v
        for k, v in {
            "name": name,
            "metadata": parse_json(metadata, "--metadata", MAX_METADATA_DEPTH),
        }.items()
        if v is not None
    }
    flows = await connect()
    await finish(
        flows,
        flows.start_update_groups(group_id, changes, request_id=request_id),
        GroupsResult,
        no_wait,
        as_json,
        lambda r: show_rows(r.groups, GROUP_COLUMNS, "updated", False),
    )


@group.command("delete")
@click.argument("group_ids", nargs=-1, required=True)
@trigger_options
@run_async
async def group_delete(
    group_ids: tuple[str, ...], request_id: str | None, no_wait: bool, as_json: bool
) -> None:
    """Soft-delete groups."""
    from workflows.contracts import IdsResult

    flows = await connect()
    await finish(
        flows,
        flows.start_delete_groups(list(group_ids), request_id=request_id),
        IdsResult,
        no_wait,
        as_json,
        lambda r: out.print(f"deleted {', '.join(r.ids)}"),
    )


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
        group_id: str,
        customer_ids: tuple[str, ...],
        request_id: str | None,
        no_wait: bool,
        as_json: bool,
    ) -> None:
        from workflows.contracts import LinkResult

        flows = await connect()
        ids = list(customer_ids)
        start = flows.start_link_customers_to_group(
            group_id, add=ids if adding else [], remove=[] if adding else ids, request_id=request_id
        )
        await finish(
            flows,
            start,
            LinkResult,
            no_wait,
            as_json,
            lambda r: out.print(f"added {len(r.added)}, removed {len(r.removed)} membership(s)"),
        )

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
    customer_id: str,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    request_id: str | None,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Add / remove one customer's groups."""
    from workflows.contracts import LinkResult

    flows = await connect()
    await finish(
        flows,
        flows.start_link_groups_to_customer(
            customer_id, add=list(add), remove=list(remove), request_id=request_id
        ),
        LinkResult,
        no_wait,
        as_json,
        lambda r: out.print(f"added {len(r.added)}, removed {len(r.removed)} membership(s)"),
    )
