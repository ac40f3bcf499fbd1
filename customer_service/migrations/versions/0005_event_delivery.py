"""Event delivery: webhook endpoints, the deliveries of each released event to each subscriber
(recorded at release time, in the release's transaction), and erasure tombstones.

Revision ID: 0003
Revises: 0002
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _now() -> sa.Column[Any]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("events", JSONB(), nullable=False),
        _now(),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="webhook_endpoint_pkey"),
    )
    op.create_table(
        "event_delivery",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("subscriber", sa.Text(), nullable=False),
        sa.Column("lane", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text()),
        _now(),
        sa.Column("status_changed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="event_delivery_pkey"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event_outbox.id"],
            name="FK_event_delivery_event_id",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("event_id", "subscriber", name="UQ_event_delivery_event_id_subscriber"),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="CK_event_delivery_status"
        ),
    )
    op.create_index(
        "IDX_event_delivery_pending",
        "event_delivery",
        ["subscriber", "lane", "seq"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "IDX_event_delivery_failed",
        "event_delivery",
        ["seq"],
        postgresql_where=sa.text("status = 'failed'"),
    )
    op.create_table(
        "event_plan",
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("subscribers", JSONB(), nullable=False),
        _now(),
        sa.PrimaryKeyConstraint("event_id", name="event_plan_pkey"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event_outbox.id"], name="FK_event_plan_event_id", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "customer_erasure",
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column(
            "erased_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("removed", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="customer_erasure_pkey"),
    )
    op.create_index("IDX_operation_log_created_at", "operation_log", ["created_at"])


def downgrade() -> None:
    op.drop_index("IDX_operation_log_created_at", table_name="operation_log")
    op.drop_table("customer_erasure")
    op.drop_table("event_plan")
    op.drop_table("event_delivery")
    op.drop_table("webhook_endpoint")
