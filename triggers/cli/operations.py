"""`customers events failed|list|redeliver`, `customers webhooks add|list|remove`,
`customers schedules apply` and `customers erase CUSTOMER_ID`."""

from __future__ import annotations

import json

import click

from triggers.base import RESULT_POLL
from triggers.cli.common import connect, main, out, read_options, run_async, show_rows
from triggers.operations import Operations

DELIVERY_COLUMNS = ("id", "event", "subscriber", "lane", "status", "attempts", "last_error")


async def _operations() -> Operations:
    flows = await connect(reads=True)
    assert flows.service is not None
    return Operations(flows.client, flows.settings, flows.service.sessions)


@main.group()
def events() -> None:
    """Deliveries of released events to subscribers and webhooks."""


@events.command("failed")
@click.option("--limit", default=100, show_default=True)
@read_options
@run_async
async def events_failed(limit: int, as_json: bool) -> None:
    """Deliveries given up after the retry window."""
    ops = await _operations()
    rows = await ops.deliveries.list_deliveries("failed", limit)
    show_rows(rows, DELIVERY_COLUMNS, "failed deliveries", as_json)


@events.command("list")
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]), default=None)
@click.option("--limit", default=100, show_default=True)
@read_options
@run_async
async def events_list(status: str | None, limit: int, as_json: bool) -> None:
    """Deliveries, oldest first."""
    ops = await _operations()
    rows = await ops.deliveries.list_deliveries(status, limit)
    show_rows(rows, DELIVERY_COLUMNS, "deliveries", as_json)


@events.command("redeliver")
@click.argument("delivery_id")
@run_async
async def events_redeliver(delivery_id: str) -> None:
    """Send a delivery again, with the same delivery id."""
    ops = await _operations()
    await ops.redeliver(delivery_id)
    out.print(f"{delivery_id} queued for delivery", highlight=False)


@main.group()
def webhooks() -> None:
    """Webhook endpoints: URLs that receive events as signed POSTs."""


@webhooks.command("add")
@click.argument("url")
@click.option("--event", "event_names", multiple=True, required=True, help="Event name, or *.")
@read_options
@run_async
async def webhooks_add(url: str, event_names: tuple[str, ...], as_json: bool) -> None:
    """Register an endpoint; prints its signing secret (keep it: it is shown only here)."""
    ops = await _operations()
    endpoint = await ops.deliveries.add_webhook(url, list(event_names))
    if as_json:
        click.echo(json.dumps(endpoint))
    else:
        out.print(
            f"added {endpoint['id']}\nsigning secret: {endpoint['secret']}",
            highlight=False,
        )


@webhooks.command("list")
@read_options
@run_async
async def webhooks_list(as_json: bool) -> None:
    """Registered endpoints."""
    ops = await _operations()
    rows = await ops.deliveries.list_webhooks()
    show_rows(rows, ("id", "url", "events", "created_at"), "webhooks", as_json)


@webhooks.command("remove")
@click.argument("webhook_id")
@run_async
async def webhooks_remove(webhook_id: str) -> None:
    """Stop sending to an endpoint (its pending deliveries then fail)."""
    ops = await _operations()
    removed = await ops.deliveries.remove_webhook(webhook_id)
    out.print(
        f"{webhook_id} {'removed' if removed else 'was not registered'}",
        highlight=False,
    )


@main.group()
def schedules() -> None:
    """The nightly invariant check and retention (Temporal Schedules)."""


@schedules.command("apply")
@read_options
@run_async
async def schedules_apply(as_json: bool) -> None:
    """Create or update the schedules; re-applying changes nothing."""
    flows = await connect()
    outcome = await Operations(flows.client, flows.settings).apply_schedules()
    if as_json:
        click.echo(json.dumps(outcome))
    for schedule_id, what in outcome.items():
        if not as_json:
            out.print(f"{schedule_id}: {what}", highlight=False)


@main.command()
@click.argument("customer_id")
@click.option("--no-wait", is_flag=True, help="Start the run, print its id, return.")
@read_options
@run_async
async def erase(customer_id: str, no_wait: bool, as_json: bool) -> None:
    """Erase a customer's personal data everywhere we keep it (irreversible)."""
    flows = await connect()
    handle = await Operations(flows.client, flows.settings).start_erase(customer_id)
    if no_wait:
        out.print(f"started {handle.id}\nrun: {flows.ui_link(handle.id)}", highlight=False)
        return
    result = await handle.result(rpc_timeout=RESULT_POLL)
    if as_json:
        click.echo(json.dumps(result.model_dump(mode="json")))
    else:
        removed = ", ".join(f"{k}: {v}" for k, v in result.removed.items())
        out.print(f"erased {customer_id} ({removed})\nrun: {flows.ui_link(handle.id)}")
