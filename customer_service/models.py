"""Tables of the Customer Module (SPEC §1), plus the event outbox and the operations log.

The schema is created by the Alembic migrations; these mappings must agree with them (a test checks
that they do). Index and constraint names are stable: the error edge in `db.py` matches on them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "IDX_%(table_name)s_%(column_0_N_name)s",
    "uq": "UQ_%(table_name)s_%(column_0_N_name)s",
    "fk": "FK_%(table_name)s_%(column_0_name)s",
    "pk": "%(table_name)s_pkey",
}

# Columns searched by free-text `q` (SPEC §3.2), in the order they are joined for the trigram index.
CUSTOMER_SEARCH_COLUMNS = ("company_name", "first_name", "last_name", "email", "phone")
ADDRESS_SEARCH_COLUMNS = (
    "address_name",
    "company",
    "first_name",
    "last_name",
    "address_1",
    "address_2",
    "city",
    "province",
    "postal_code",
)
GROUP_SEARCH_COLUMNS = ("name",)


def search_document_sql(columns: tuple[str, ...], table: str | None = None) -> str:
    """SQL of the text that `q` searches: the searchable columns joined by a space.

    Tokens never contain whitespace, so a token found in this text is found inside one column;
    one trigram index over it serves every column at once.
    """
    prefix = f"{table}." if table else ""
    return " || ' ' || ".join(f"coalesce({prefix}{col}, '')" for col in columns)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class (typed as a Table, which it always is here)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class TimestampsMixin:
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Customer(TimestampsMixin, Base):
    __tablename__ = "customer"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    company_name: Mapped[str | None] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    has_account: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    auth_identity_id: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB(none_as_null=True))
    created_by: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "IDX_customer_email_has_account_unique",
            func.lower(text("email")),
            "has_account",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "IDX_customer_auth_identity_id_unique",
            "auth_identity_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND auth_identity_id IS NOT NULL"),
        ),
        Index("IDX_customer_deleted_at", "deleted_at", postgresql_where=text("deleted_at IS NULL")),
        Index(
            "IDX_customer_search_trgm",
            text(f"({search_document_sql(CUSTOMER_SEARCH_COLUMNS)}) gin_trgm_ops"),
            postgresql_using="gin",
        ),
    )


class CustomerAddress(TimestampsMixin, Base):
    __tablename__ = "customer_address"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        Text,
        ForeignKey("customer.id", ondelete="CASCADE", onupdate="CASCADE"),
        nullable=False,
    )
    address_name: Mapped[str | None] = mapped_column(Text)
    is_default_shipping: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    is_default_billing: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    company: Mapped[str | None] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    address_1: Mapped[str | None] = mapped_column(Text)
    address_2: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    country_code: Mapped[str | None] = mapped_column(Text)
    province: Mapped[str | None] = mapped_column(Text)
    postal_code: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB(none_as_null=True))

    __table_args__ = (
        Index("IDX_customer_address_customer_id", "customer_id"),
        Index(
            "IDX_customer_address_unique_customer_billing",
            "customer_id",
            unique=True,
            postgresql_where=text("is_default_billing = true"),
        ),
        Index(
            "IDX_customer_address_unique_customer_shipping",
            "customer_id",
            unique=True,
            postgresql_where=text("is_default_shipping = true"),
        ),
        Index(
            "IDX_customer_address_deleted_at",
            "deleted_at",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "IDX_customer_address_search_trgm",
            text(f"({search_document_sql(ADDRESS_SEARCH_COLUMNS)}) gin_trgm_ops"),
            postgresql_using="gin",
        ),
    )


class CustomerGroup(TimestampsMixin, Base):
    __tablename__ = "customer_group"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB(none_as_null=True))
    created_by: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "IDX_customer_group_name_unique",
            "name",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "IDX_customer_group_deleted_at",
            "deleted_at",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "IDX_customer_group_search_trgm",
            text(f"({search_document_sql(GROUP_SEARCH_COLUMNS)}) gin_trgm_ops"),
            postgresql_using="gin",
        ),
    )


class CustomerGroupCustomer(TimestampsMixin, Base):
    __tablename__ = "customer_group_customer"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        Text,
        ForeignKey("customer.id", ondelete="CASCADE", onupdate="CASCADE"),
        nullable=False,
    )
    customer_group_id: Mapped[str] = mapped_column(
        Text,
        ForeignKey("customer_group.id", ondelete="CASCADE", onupdate="CASCADE"),
        nullable=False,
    )
    created_by: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB(none_as_null=True))

    __table_args__ = (
        Index(
            "IDX_customer_group_customer_customer_group_id",
            "customer_group_id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("IDX_customer_group_customer_customer_id", "customer_id"),
        Index(
            "IDX_customer_group_customer_deleted_at",
            "deleted_at",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # Decision 2: membership is a set — one live row per pair.
        Index(
            "IDX_customer_group_customer_pair_unique",
            "customer_id",
            "customer_group_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )


class OutboxEvent(Base):
    """A domain event. Internal module events are written `released`; workflow events are written
    `staged` under the run's event group, then released when the run succeeds or discarded."""

    __tablename__ = "event_outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    internal: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    status: Mapped[str] = mapped_column(Text, nullable=False)
    event_group_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now_column()
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "status IN ('staged', 'released', 'discarded')", name="CK_event_outbox_status"
        ),
        Index("IDX_event_outbox_event_group_id", "event_group_id"),
        Index(
            "IDX_event_outbox_status_released",
            "id",
            postgresql_where=text("status = 'released'"),
        ),
    )


class OperationRecord(Base):
    """What a non-idempotent operation did, keyed by the caller's `operation_id`, written in the
    same transaction as the change so a repeated call returns it instead of acting twice, and a
    compensation knows exactly what to undo. `name` is the kind of operation, `result` its typed
    record (`customer_service.oplog`), `state` whether it stands, was undone or was fenced off."""

    __tablename__ = "operation_log"

    operation_id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    result: Mapped[Any] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = _now_column()
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'done'"))

    __table_args__ = (
        CheckConstraint(
            "state IN ('done', 'released', 'compensated', 'cancelled')",
            name="CK_operation_log_state",
        ),
        Index("IDX_operation_log_created_at", "created_at"),  # retention prunes by age
    )


# --- event delivery (migration 0003) --------------------------------------------------------------


class WebhookEndpoint(Base):
    """A URL that receives the events it lists as signed HTTP POSTs."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = _now_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EventDelivery(Base):
    """One released event for one subscriber: written when the event is released (the
    subscribers of that moment), then `delivered` or, after the retry window, `failed`. `id` is
    the stable delivery id a receiver dedupes on; `seq` orders deliveries of one `lane` (the
    event's customer) as they were released."""

    __tablename__ = "event_delivery"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=False), nullable=False)
    event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    subscriber: Mapped[str] = mapped_column(Text, nullable=False)
    lane: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now_column()
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(
            ["event_id"],
            ["event_outbox.id"],
            name="FK_event_delivery_event_id",
            ondelete="CASCADE",
        ),
        UniqueConstraint("event_id", "subscriber", name="UQ_event_delivery_event_id_subscriber"),
        CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="CK_event_delivery_status"
        ),
        Index(
            "IDX_event_delivery_pending",
            "subscriber",
            "lane",
            "seq",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("IDX_event_delivery_failed", "seq", postgresql_where=text("status = 'failed'")),
    )


class EventPlan(Base):
    """The subscribers a released event had at release time (empty: nobody wanted it)."""

    __tablename__ = "event_plan"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    subscribers: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        ForeignKeyConstraint(
            ["event_id"], ["event_outbox.id"], name="FK_event_plan_event_id", ondelete="CASCADE"
        ),
    )


class CustomerErasure(Base):
    """Tombstone of an erased customer: its id, when, and how many rows of each kind went."""

    __tablename__ = "customer_erasure"

    customer_id: Mapped[str] = mapped_column(Text, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    removed: Mapped[dict[str, int]] = mapped_column(JSONB, nullable=False)
