"""`customers users create`, `customers api-keys create` and `customers serve`: the HTTP API's
commands, added to the `customers` CLI by `add_commands(main)`."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import click

from auth.store import AuthStore
from customer_service.errors import CustomerModuleError
from settings import ConfigurationError, get_settings


async def _with_store(action: Callable[[AuthStore], Awaitable[Any]]) -> Any:
    from customer_service import create_engine, session_factory

    engine = create_engine(get_settings().require_database_url(), pool_size=1)
    try:
        return await action(AuthStore(session_factory(engine)))
    finally:
        await engine.dispose()


def _run(action: Callable[[AuthStore], Awaitable[Any]]) -> Any:
    try:
        return asyncio.run(_with_store(action))
    except CustomerModuleError as exc:
        click.echo(f"error {exc.type}: {exc.message}", err=True)
        sys.exit(1)
    except ConfigurationError as exc:  # no DATABASE_URL and no running `make dev`
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@click.group("users")
def users() -> None:
    """Admin users of the HTTP API."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def create_user(email: str, password: str, as_json: bool) -> None:
    """Create an admin user (the same email again changes nothing and prints the same user)."""
    from api.schemas import EmailPassBody
    from customer_service.validation import validate

    def create(store: AuthStore) -> Awaitable[tuple[str, bool]]:
        body = validate(EmailPassBody, {"email": email, "password": password}, "")
        return store.create_user(body.email, body.password)

    user_id, created = _run(create)
    if as_json:
        click.echo(json.dumps({"id": user_id, "email": email, "created": created}))
    else:
        click.echo(f"{'created' if created else 'exists'}: admin user {user_id} <{email}>")


@click.group("api-keys")
def api_keys() -> None:
    """Secret (admin, Basic auth) and publishable (store) API keys."""


@api_keys.command("create")
@click.option("--type", "key_type", type=click.Choice(["secret", "publishable"]), required=True)
@click.option("--title", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def create_api_key(key_type: Literal["secret", "publishable"], title: str, as_json: bool) -> None:
    """Create a key and print its token (a secret key's token is shown this once)."""
    key = _run(lambda store: store.create_api_key(title, key_type, "cli"))
    if as_json:
        click.echo(json.dumps(key, default=str))
    else:
        click.echo(f"{key['type']} key {key['id']} ({key['title']}): {key['token']}")


@click.command("serve")
@click.option("--host", default=None, help="Default: API_HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Default: API_PORT (9000).")
@click.option(
    "--workers", default=None, type=int, help="Default: API_WORKERS (0: one per CPU core, up to 4)."
)
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the HTTP API (Medusa's admin, store and auth routes)."""
    from api.__main__ import serve as run_server

    run_server(host, port, workers)


def add_commands(main: click.Group) -> None:
    for command in (users, api_keys, serve):
        main.add_command(command)
