"""Deep and big input is refused before anything recursive runs on it: the client and the CLI
answer a typed invalid_data naming the field (never a RecursionError), at the limit and far past
it; and the CLI says "is the stack running?" only when the stack does not answer."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from customer_service.errors import InvalidDataError
from customer_service.schemas import (
    MAX_ADDITIONAL_DATA_BYTES,
    MAX_JSON_DEPTH,
    MAX_METADATA_DEPTH,
    nesting_exceeds,
)
from customer_service.validation import validate
from devstack.ports import free_port
from settings import Settings
from triggers.cli.common import json_too_deep, unreachable
from triggers.client import CustomerFlows
from workflows.contracts import CreateCustomersInput, UpdateCustomersInput

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "customers")
# Far past any limit, and past the interpreter's recursion limit (1,000).
DEPTHS = (1_000, 100_000)


def nested(levels: int, leaf: Any = "x") -> Any:
    """`levels` dicts (and lists, every other level) one inside the other, built without recursion."""
    value = leaf
    for level in reversed(range(levels)):  # level 0, the outermost, is a dict
        value = {"k": value} if level % 2 == 0 else [value]
    return value


@pytest.fixture
def flows(temporal_client: Client) -> CustomerFlows:
    """A client on a task queue no worker polls: a start that got through would hang, not pass."""
    return CustomerFlows(temporal_client, Settings(task_queue=f"deep-{uuid.uuid4().hex[:8]}"))


Start = Callable[[CustomerFlows, Any], Awaitable[Any]]
STARTS: dict[str, tuple[Start, str, int]] = {
    "create metadata": (
        lambda f, v: f.start_create_customers([{"first_name": "x", "metadata": v}]),
        "customers_data.0.metadata",
        MAX_METADATA_DEPTH,
    ),
    "create additional_data": (
        lambda f, v: f.start_create_customers([{"first_name": "x"}], additional_data={"a": v}),
        "additional_data",
        MAX_JSON_DEPTH,
    ),
    "update metadata": (
        lambda f, v: f.start_update_customers("cus_1", {"metadata": v}),
        "update",
        MAX_JSON_DEPTH,
    ),
    "update selector": (
        lambda f, v: f.start_update_customers({"id": v}, {"first_name": "y"}),
        "selector",
        MAX_JSON_DEPTH,
    ),
    "address metadata": (
        lambda f, v: f.start_create_addresses([{"customer_id": "cus_1", "metadata": v}]),
        "metadata",
        MAX_METADATA_DEPTH,
    ),
    "group metadata": (
        lambda f, v: f.start_create_groups([{"name": "g", "metadata": v}]),
        "metadata",
        MAX_METADATA_DEPTH,
    ),
}


@pytest.mark.parametrize("path", list(STARTS))
@pytest.mark.parametrize("levels", ["limit + 1", *DEPTHS])
async def test_deep_input_is_invalid_data_naming_the_field(
    flows: CustomerFlows, path: str, levels: int | str
) -> None:
    start, field, limit = STARTS[path]
    depth = limit + 1 if levels == "limit + 1" else int(levels)
    with pytest.raises(InvalidDataError) as raised:
        await start(flows, nested(depth - (1 if "additional" in path else 0)))
    message = raised.value.message
    assert message.startswith("Invalid request: "), message
    assert field in message and f"nested at most {limit} levels deep" in message, message


def test_input_at_the_depth_limit_passes() -> None:
    metadata = nested(MAX_METADATA_DEPTH)
    assert not nesting_exceeds(metadata, MAX_METADATA_DEPTH)
    assert nesting_exceeds(nested(MAX_METADATA_DEPTH + 1), MAX_METADATA_DEPTH)
    created = validate(
        CreateCustomersInput,
        {
            "customers_data": [{"first_name": "x", "metadata": metadata}],
            "additional_data": nested(MAX_JSON_DEPTH),
        },
        "",
    )
    assert created.customers_data[0].metadata == metadata
    update = validate(
        UpdateCustomersInput, {"selector": {"id": "c"}, "update": nested(MAX_JSON_DEPTH)}, ""
    )
    assert update.update == nested(MAX_JSON_DEPTH)


async def test_big_additional_data_is_invalid_data(flows: CustomerFlows) -> None:
    wide = {f"k{i}": "x" * 100 for i in range(MAX_ADDITIONAL_DATA_BYTES // 100)}
    with pytest.raises(InvalidDataError) as raised:
        await flows.start_create_customers([{"first_name": "x"}], additional_data=wide)
    assert raised.value.message == (
        f"Invalid request: Invalid additional_data: must be at most "
        f"{MAX_ADDITIONAL_DATA_BYTES} bytes as JSON"
    )


def test_json_depth_is_counted_outside_strings() -> None:
    assert not json_too_deep('{"a": "[[[[[[{{{{{{\\"[[[["}', 1)
    assert json_too_deep('{"a": [{"b": 1}]}', 2)
    assert not json_too_deep('{"a": [{"b": 1}]}', 3)
    assert json_too_deep("[" * 100_000 + "]" * 100_000, MAX_METADATA_DEPTH)


def test_only_a_server_that_does_not_answer_is_unreachable() -> None:
    assert unreachable(ConnectionRefusedError(111, "Connection refused"))
    assert unreachable(RuntimeError("Failed client connect: Server connection error: ..."))
    assert not unreachable(RecursionError("maximum recursion depth exceeded"))
    assert not unreachable(RuntimeError("this CustomerFlows was connected without reads"))
    assert not unreachable(FileNotFoundError(2, "No such file or directory"))


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def cli_env(database_url: str, temporal_address: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_address,
        "DATA_DIR": str(tmp_path),
        "TASK_QUEUE": f"deep-cli-{uuid.uuid4().hex[:8]}",
    }


# (one command-line argument is at most 128 KiB: 50,000 levels)
@pytest.mark.parametrize("levels", [MAX_METADATA_DEPTH + 1, 1_000, 50_000])
@pytest.mark.parametrize("command", [("create",), ("update", "cus_1"), ("group", "update", "g")])
def test_cli_refuses_deep_metadata_as_invalid_data(
    cli_env: dict[str, str], command: tuple[str, ...], levels: int
) -> None:
    deep = "[" * (levels - 1) + "{}" + "]" * (levels - 1)
    result = cli(cli_env, *command, "--metadata", '{"k": ' + deep + "}")
    assert result.returncode == 1
    assert (
        "error invalid_data: Invalid request: Invalid --metadata: must be nested at most "
        f"{MAX_METADATA_DEPTH} levels deep"
    ) in result.stderr, result.stderr
    assert "stack running" not in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


async def test_cli_says_is_the_stack_running_only_when_it_does_not_answer(
    cli_env: dict[str, str], temporal_client: Client
) -> None:
    args = ("create", "--first-name", "x", "--metadata", '{"a": 1}', "--no-wait", "--json")
    down = {**cli_env, "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}
    result = await asyncio.to_thread(cli, down, *args)
    assert result.returncode == 1
    assert "error unavailable" in result.stderr and "is the stack running?" in result.stderr
    # The same call against a stack that answers gets through (the run is started, and ended
    # here: no worker polls this task queue).
    up = await asyncio.to_thread(cli, cli_env, *args)
    assert up.returncode == 0, up.stderr
    assert "stack running" not in up.stderr
    await temporal_client.get_workflow_handle(json.loads(up.stdout)["workflow_id"]).terminate()
