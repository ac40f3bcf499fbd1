"""Operation log: a `released` state — the run's pivot committed with its events released.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


_DROP = 'ALTER TABLE operation_log DROP CONSTRAINT "CK_operation_log_state"'
_WITH_RELEASED = (
    'ALTER TABLE operation_log ADD CONSTRAINT "CK_operation_log_state" '
    "CHECK (state IN ('done', 'released', 'compensated', 'cancelled'))"
)
_WITHOUT_RELEASED = (
    'ALTER TABLE operation_log ADD CONSTRAINT "CK_operation_log_state" '
    "CHECK (state IN ('done', 'compensated', 'cancelled'))"
)


def upgrade() -> None:
    op.execute(_DROP)
    op.execute(_WITH_RELEASED)


def downgrade() -> None:
    op.execute("UPDATE operation_log SET state = 'done' WHERE state = 'released'")
    op.execute(_DROP)
    op.execute(_WITHOUT_RELEASED)
