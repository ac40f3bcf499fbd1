"""Operation log: a `released` state — the run's pivot committed with its events released.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _check(states: str) -> None:
    op.execute('ALTER TABLE operation_log DROP CONSTRAINT "CK_operation_log_state"')
    op.execute(
        f'ALTER TABLE operation_log ADD CONSTRAINT "CK_operation_log_state" CHECK (state IN ({states}))'
    )


def upgrade() -> None:
    _check("'done', 'released', 'compensated', 'cancelled'")


def downgrade() -> None:
    op.execute("UPDATE operation_log SET state = 'done' WHERE state = 'released'")
    _check("'done', 'compensated', 'cancelled'")
