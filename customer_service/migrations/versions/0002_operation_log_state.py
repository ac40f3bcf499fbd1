"""Operation log: a `state` column and typed records.

Before, a compensated or fenced-off operation was marked by a suffix on its name
(" (compensated)", " (cancelled)"), and `result` held shapes read by key. Now `state` says
`done` / `compensated` / `cancelled`, `name` is the record's kind, and `result` is the typed
record of `customer_service.oplog` (with its `kind`).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Records (state <> 'cancelled'; a cancelled mark has no record) whose shape changes, old → new.
_RESHAPE = """
UPDATE operation_log SET
    result = jsonb_build_object(
        'kind', 'unset default addresses', 'flag', substr(name, 7), 'address_ids', result),
    name = 'unset default addresses'
WHERE name LIKE 'unset %' AND state <> 'cancelled';
UPDATE operation_log SET name = 'unset default addresses'
WHERE name LIKE 'unset %';
UPDATE operation_log SET
    result = jsonb_build_object('kind', name, 'rows', result)
WHERE name = 'delete customer addresses' AND state <> 'cancelled';
UPDATE operation_log SET
    result = jsonb_build_object(
        'kind', name,
        'customer_ids', coalesce(result -> 'customer_id', '[]'::jsonb),
        'address_ids', coalesce(result -> 'customer_address_id', '[]'::jsonb))
WHERE name = 'soft delete customers' AND state <> 'cancelled';
UPDATE operation_log SET
    result = jsonb_build_object(
        'kind', name, 'group_ids', coalesce(result -> 'customer_group_id', '[]'::jsonb))
WHERE name = 'soft delete customer groups' AND state <> 'cancelled';
UPDATE operation_log SET
    result = result || jsonb_build_object(
        'kind', 'update',
        'entity', CASE name WHEN 'update Customer' THEN 'customer'
                            WHEN 'update CustomerAddress' THEN 'address'
                            ELSE 'group' END)
WHERE name LIKE 'update %' AND state <> 'cancelled';
UPDATE operation_log SET name = 'update' WHERE name LIKE 'update %';
UPDATE operation_log SET result = result || jsonb_build_object('kind', name)
WHERE name IN ('create customers', 'create customer addresses', 'create customer groups',
               'change memberships', 'set auth identity')
  AND state <> 'cancelled'
"""

_UNSHAPE = """
UPDATE operation_log SET
    name = 'unset ' || coalesce(result ->> 'flag', 'is_default_shipping'),
    result = coalesce(result -> 'address_ids', '{}'::jsonb)
WHERE name = 'unset default addresses';
UPDATE operation_log SET result = result -> 'rows'
WHERE name = 'delete customer addresses' AND state <> 'cancelled';
UPDATE operation_log SET
    result = jsonb_strip_nulls(jsonb_build_object(
        'customer_id', nullif(result -> 'customer_ids', '[]'::jsonb),
        'customer_address_id', nullif(result -> 'address_ids', '[]'::jsonb)))
WHERE name = 'soft delete customers' AND state <> 'cancelled';
UPDATE operation_log SET
    result = jsonb_strip_nulls(jsonb_build_object(
        'customer_group_id', nullif(result -> 'group_ids', '[]'::jsonb)))
WHERE name = 'soft delete customer groups' AND state <> 'cancelled';
UPDATE operation_log SET
    name = CASE result ->> 'entity' WHEN 'customer' THEN 'update Customer'
                                    WHEN 'address' THEN 'update CustomerAddress'
                                    ELSE 'update CustomerGroup' END,
    result = result - 'kind' - 'entity'
WHERE name = 'update';
UPDATE operation_log SET result = result - 'kind'
WHERE jsonb_typeof(result) = 'object';
UPDATE operation_log SET name = name || ' (compensated)' WHERE state = 'compensated';
UPDATE operation_log SET name = name || ' (cancelled)' WHERE state = 'cancelled'
"""


def _run(script: str) -> None:
    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _run(
        """
ALTER TABLE operation_log ADD COLUMN state text NOT NULL DEFAULT 'done';
ALTER TABLE operation_log ADD CONSTRAINT "CK_operation_log_state"
    CHECK (state IN ('done', 'compensated', 'cancelled'));
UPDATE operation_log SET state = 'compensated', name = left(name, -length(' (compensated)'))
WHERE name LIKE '% (compensated)';
UPDATE operation_log SET state = 'cancelled', name = left(name, -length(' (cancelled)'))
WHERE name LIKE '% (cancelled)'
"""
    )
    _run(_RESHAPE)


def downgrade() -> None:
    _run(_UNSHAPE)
    _run("ALTER TABLE operation_log DROP COLUMN state")
