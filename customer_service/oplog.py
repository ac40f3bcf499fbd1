"""The operation log: one typed record per non-idempotent operation, keyed by `operation_id`.

A step that a workflow may run more than once writes its record in the same transaction as its
change; a repeat finds the record and returns what the first call did. A compensation reads the
record and undoes exactly that — it needs nothing but the `operation_id`. Each row has a `state`:

- `done`: the operation committed and stands;
- `released`: it committed with the release of its run's events (the run's pivot): it stands for
  good, and its compensation answers `ReleasedError` (too late) instead of undoing it;
- `compensated`: its compensation undid it;
- `cancelled`: its compensation ran first and found nothing (the step never committed). The mark
  fences off a late attempt of the step still in flight on some worker, which then fails instead
  of committing after the saga has moved on.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import delivery_plan, events
from customer_service import models as m
from customer_service.db import transaction
from customer_service.entities import EntityKey
from customer_service.errors import ConflictError, InvalidDataError, ReleasedError
from customer_service.schemas import WriteContext, too_large
from customer_service.validation import validate_id


class State(StrEnum):
    DONE = "done"
    RELEASED = "released"
    COMPENSATED = "compensated"
    CANCELLED = "cancelled"


STANDING = (State.DONE, State.RELEASED)  # an operation that committed and was not undone


DefaultFlag = Literal["is_default_shipping", "is_default_billing"]
DEFAULT_FLAGS: tuple[DefaultFlag, ...] = ("is_default_shipping", "is_default_billing")


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str

    def returned(self) -> Any:
        """What the step that wrote this record returns (its size is checked before commit)."""
        return self

    @classmethod
    def kind_name(cls) -> str:
        default = cls.model_fields["kind"].default
        assert isinstance(default, str), f"{cls.__name__} has no kind"
        return default


class Created(Record):
    """Rows a create inserted (`ids`), and the id of every item asked for (`all_ids`, so a
    repeat returns the first call's rows even where it minted ids itself)."""

    entity: ClassVar[str]  # key of the entity created (customer_service.entities)

    ids: list[str]
    all_ids: list[str]

    def created(self) -> dict[str, list[str]]:
        """Entity key → ids of the rows this operation inserted."""
        return {self.entity: self.ids}


class CreateCustomersRecord(Created):
    entity = "customer"
    kind: Literal["create customers"] = "create customers"
    address_ids: list[str]

    def created(self) -> dict[str, list[str]]:
        return {"customer": self.ids, "address": self.address_ids}


class CreateAddressesRecord(Created):
    entity = "address"
    kind: Literal["create customer addresses"] = "create customer addresses"


class CreateGroupsRecord(Created):
    entity = "group"
    kind: Literal["create customer groups"] = "create customer groups"


class UpdateRecord(Record):
    """An update and the values it replaced: its compensation compare-and-sets them back."""

    kind: Literal["update"] = "update"
    entity: EntityKey
    ids: list[str]
    previous: list[dict[str, Any]]  # per row: {"id", <field>: value before}
    written: list[dict[str, Any]]  # per row: {"id", <field>: value written}
    rows: list[dict[str, Any]]  # the updated rows in full, as JSON

    def returned(self) -> Any:
        return self.rows, [p.get("email") for p in self.previous]


class SoftDeleteCustomersRecord(Record):
    kind: Literal["soft delete customers"] = "soft delete customers"
    customer_ids: list[str]
    address_ids: list[str]  # soft-deleted in cascade


class SoftDeleteGroupsRecord(Record):
    kind: Literal["soft delete customer groups"] = "soft delete customer groups"
    group_ids: list[str]


class UnsetDefaultRecord(Record):
    kind: Literal["unset default addresses"] = "unset default addresses"
    flag: DefaultFlag
    address_ids: list[str]


class DeleteAddressesRecord(Record):
    kind: Literal["delete customer addresses"] = "delete customer addresses"
    rows: list[dict[str, Any]]  # the deleted rows in full (AddressDTO as JSON)


class ChangeMembershipsRecord(Record):
    kind: Literal["change memberships"] = "change memberships"
    added: list[tuple[str, str]]
    removed: list[tuple[str, str]]
    membership_ids: list[str]
    added_ids: list[str]  # the membership rows this operation created
    removed_rows: list[dict[str, Any]]  # the rows it deleted, as JSON: put back as they were
    requested: list[str]  # every "customer_id/group_id" asked for, no-ops included
    xid: int  # its transaction id: orders operations on the same pair

    def returned(self) -> Any:
        return self.added, self.removed, self.membership_ids, self.added_ids


class SetAuthIdentityRecord(Record):
    kind: Literal["set auth identity"] = "set auth identity"
    customer_id: str
    previous: str | None
    written: str | None


AnyRecord = Annotated[
    CreateCustomersRecord
    | CreateAddressesRecord
    | CreateGroupsRecord
    | UpdateRecord
    | SoftDeleteCustomersRecord
    | SoftDeleteGroupsRecord
    | UnsetDefaultRecord
    | DeleteAddressesRecord
    | ChangeMembershipsRecord
    | SetAuthIdentityRecord,
    Field(discriminator="kind"),
]
_RECORD: TypeAdapter[AnyRecord] = TypeAdapter(AnyRecord)
CREATE_RECORDS: tuple[type[Created], ...] = (
    CreateCustomersRecord,
    CreateAddressesRecord,
    CreateGroupsRecord,
)

R = TypeVar("R", bound=Record)

# Sent as written (no statement to build and compile per call): every recorded write runs both.
_LOG = m.OperationRecord.__tablename__
_CLAIM = f"""INSERT INTO "{_LOG}" (operation_id, name, result)
VALUES (%(operation_id)s, %(name)s, '{{}}') ON CONFLICT (operation_id) DO NOTHING
RETURNING operation_id"""
_WRITE = f"""UPDATE "{_LOG}" SET name = %(name)s, result = %(result)s::jsonb, state = %(state)s
WHERE operation_id = %(operation_id)s"""
# The pivot's record, with the release of the run's events (`events.RELEASE_CTES`), and also
# their plan when nobody wants them (`delivery_plan`): answers whether nothing is left to hand over.
_WRITE_RELEASING = f"WITH {events.RELEASE_CTES}\n{_WRITE}"
_WRITE_PLANNING = f"""WITH {events.RELEASE_CTES},
{delivery_plan.plan_unwanted(delivery_plan.RELEASED_OR_QUEUED)}
{_WRITE}
RETURNING {delivery_plan.NOTHING_TO_HAND_OVER}"""


def parse(result: Any) -> AnyRecord:
    """The typed record stored in an `operation_log.result`."""
    return _RECORD.validate_python(result)


def _expect(operation_id: str, name: str, result: Any, kind: type[R]) -> R:
    """The stored record as a `kind`. Any `Record` subclass with its own `kind` literal can be
    logged (the auth module keeps its account records here too), not only `AnyRecord`'s."""
    if name != kind.kind_name():
        raise _wrong_kind(operation_id, name, kind)
    return kind.model_validate(result)


def _wrong_kind(operation_id: str, name: str, kind: type[Record]) -> InvalidDataError:
    return InvalidDataError(
        f"Operation {operation_id} is a {name!r}, not a {kind.kind_name()!r}",
        field="operation_id",
    )


async def recorded(session: AsyncSession, ctx: WriteContext, kind: type[R]) -> R | None:
    """The record of this operation if it already ran (a repeat returns it); None when this
    call claimed the operation and must act, then `write` its record. An operation that a
    compensation has fenced off or undone must not act any more: that is a conflict."""
    if ctx.operation_id is None:
        return None
    # The claim: a placeholder record, replaced by `write` in this transaction (so never seen
    # by another). An attempt of the same operation still in flight holds that key: the insert
    # waits for it to end, then does nothing, and its record is read below. Overlapping
    # attempts (a retry while the first still runs) are serialised this way.
    connection = await session.connection()
    claim = {"operation_id": ctx.operation_id, "name": kind.kind_name()}
    if (await connection.exec_driver_sql(_CLAIM, claim)).first() is not None:
        return None
    tbl = m.table_of(m.OperationRecord)
    query = select(tbl.c.name, tbl.c.state, tbl.c.result).where(
        tbl.c.operation_id == ctx.operation_id
    )
    row = (await session.execute(query)).one()
    if row.state not in STANDING:
        raise ConflictError(
            f"Operation {ctx.operation_id} was already compensated", field="operation_id"
        )
    return _expect(ctx.operation_id, row.name, row.result, kind)


async def write(session: AsyncSession, ctx: WriteContext, record: Record) -> None:
    """Record what this operation did, over the claim `recorded` made (nothing without an
    `operation_id`). With `ctx.release`, the run's staged events are released in the same
    transaction (after every write of it), by the same statement that records it."""
    group = ctx.event_group_id if ctx.release else None
    if ctx.operation_id is None:
        if group is not None:
            await events.release_group(session, group)
        return
    params: dict[str, Any] = {
        "operation_id": ctx.operation_id,
        "name": record.kind,
        "result": json.dumps(record.model_dump(mode="json")),
        "state": State.RELEASED if ctx.release else State.DONE,
    }
    connection = await session.connection()
    if group is None:
        await connection.exec_driver_sql(_WRITE, params)
        return
    params.update(event_group_id=group, outbox_rows=events.releasing_rows(session))
    plan = delivery_plan.current()
    if plan is None:
        await connection.exec_driver_sql(_WRITE_RELEASING, params)
        return
    params["local"] = plan.local
    plan.planned = bool((await connection.exec_driver_sql(_WRITE_PLANNING, params)).scalar_one())


async def once(
    sessions: async_sessionmaker[AsyncSession],
    ctx: WriteContext,
    kind: type[R],
    act: Callable[[AsyncSession], Awaitable[R]],
) -> R:
    """Run `act` and record what it did under `ctx.operation_id`, in one transaction (staging
    the run's events); a repeat returns the first call's record without acting again."""
    async with transaction(sessions, ctx.event_group_id) as session:
        record = await recorded(session, ctx, kind)
        if record is None:
            record = await act(session)
            await write(session, ctx, record)
        fits(ctx, record.returned())
        return record


def fits(ctx: WriteContext, result: Any) -> None:
    """Called inside the step's transaction: a result larger than the caller can take fails the
    step typed and rolls it back, before anything (the run's events included) is released."""
    limit = ctx.max_result_bytes
    if limit is not None and too_large(result, limit):
        raise InvalidDataError(
            f"Invalid request: the change is too large for one run (its result exceeds {limit}"
            " bytes); split it into smaller requests"
        )


async def undo(
    sessions: async_sessionmaker[AsyncSession],
    operation_id: str,
    kind: type[R],
    action: Callable[[AsyncSession, R], Awaitable[None]],
) -> bool:
    """Undo the operation recorded under `operation_id`, once, with `action` over its record.

    Registered before its step runs, a compensation may find nothing recorded: the step never
    committed. It then leaves a `cancelled` mark (see the module docstring). Returns whether
    anything was undone; repeats are no-ops."""
    operation_id = validate_id(operation_id, "operation_id")
    async with transaction(sessions) as session:
        return await _undo(session, operation_id, kind, action)


async def _undo(
    session: AsyncSession,
    operation_id: str,
    kind: type[R],
    action: Callable[[AsyncSession, R], Awaitable[None]],
) -> bool:
    tbl = m.table_of(m.OperationRecord)
    # The run's staged events are discarded with its event group; an undo adds none.
    events.mute(session)
    query = select(tbl).where(tbl.c.operation_id == operation_id).with_for_update()
    row = (await session.execute(query)).first()
    if row is None:
        await session.execute(
            insert(tbl).values(
                operation_id=operation_id, name=kind.kind_name(), result={}, state=State.CANCELLED
            )
        )
        return False
    if row.name != kind.kind_name():
        raise _wrong_kind(operation_id, row.name, kind)
    if row.state == State.RELEASED:
        raise ReleasedError(
            f"Operation {operation_id} committed with its run's events released: too late to"
            " undo it",
            field="operation_id",
        )
    if row.state != State.DONE:
        return False
    await action(session, kind.model_validate(row.result))
    await session.execute(
        update(tbl).where(tbl.c.operation_id == operation_id).values(state=State.COMPENSATED)
    )
    return True


async def compensated_creates(session: AsyncSession) -> list[tuple[str, Created]]:
    """Every compensated create, with its operation id (the invariant checker's input)."""
    tbl = m.table_of(m.OperationRecord)
    names = [k.kind_name() for k in CREATE_RECORDS]
    query = select(tbl.c.operation_id, tbl.c.result).where(
        tbl.c.name.in_(names), tbl.c.state == State.COMPENSATED
    )
    out: list[tuple[str, Created]] = []
    for operation_id, result in (await session.execute(query)).all():
        record = parse(result)
        assert isinstance(record, Created)
        out.append((operation_id, record))
    return out
