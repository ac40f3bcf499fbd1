"""Customer Module schema: four tables (SPEC §1), event outbox, operations log, trigram search.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CUSTOMER_SEARCH = (
    "coalesce(company_name, '') || ' ' || coalesce(first_name, '') || ' ' || "
    "coalesce(last_name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '')"
)
ADDRESS_SEARCH = (
    "coalesce(address_name, '') || ' ' || coalesce(company, '') || ' ' || "
    "coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || "
    "coalesce(address_1, '') || ' ' || coalesce(address_2, '') || ' ' || "
    "coalesce(city, '') || ' ' || coalesce(province, '') || ' ' || coalesce(postal_code, '')"
)
GROUP_SEARCH = "coalesce(name, '')"

TIMESTAMPS = """
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz NULL
"""

UPGRADE = f"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE customer (
    id text NOT NULL,
    company_name text NULL,
    first_name text NULL,
    last_name text NULL,
    email text NULL,
    phone text NULL,
    has_account boolean NOT NULL DEFAULT false,
    auth_identity_id text NULL,
    metadata jsonb NULL,
    created_by text NULL,
    {TIMESTAMPS},
    CONSTRAINT customer_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX "IDX_customer_email_has_account_unique"
    ON customer (lower(email), has_account) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX "IDX_customer_auth_identity_id_unique"
    ON customer (auth_identity_id) WHERE deleted_at IS NULL AND auth_identity_id IS NOT NULL;
CREATE INDEX "IDX_customer_deleted_at" ON customer (deleted_at) WHERE deleted_at IS NULL;
CREATE INDEX "IDX_customer_search_trgm" ON customer USING gin (({CUSTOMER_SEARCH}) gin_trgm_ops);

CREATE TABLE customer_address (
    id text NOT NULL,
    customer_id text NOT NULL,
    address_name text NULL,
    is_default_shipping boolean NOT NULL DEFAULT false,
    is_default_billing boolean NOT NULL DEFAULT false,
    company text NULL,
    first_name text NULL,
    last_name text NULL,
    address_1 text NULL,
    address_2 text NULL,
    city text NULL,
    country_code text NULL,
    province text NULL,
    postal_code text NULL,
    phone text NULL,
    metadata jsonb NULL,
    {TIMESTAMPS},
    CONSTRAINT customer_address_pkey PRIMARY KEY (id),
    CONSTRAINT "FK_customer_address_customer_id" FOREIGN KEY (customer_id)
        REFERENCES customer (id) ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX "IDX_customer_address_customer_id" ON customer_address (customer_id);
CREATE UNIQUE INDEX "IDX_customer_address_unique_customer_billing"
    ON customer_address (customer_id) WHERE is_default_billing = true;
CREATE UNIQUE INDEX "IDX_customer_address_unique_customer_shipping"
    ON customer_address (customer_id) WHERE is_default_shipping = true;
CREATE INDEX "IDX_customer_address_deleted_at"
    ON customer_address (deleted_at) WHERE deleted_at IS NULL;
CREATE INDEX "IDX_customer_address_search_trgm"
    ON customer_address USING gin (({ADDRESS_SEARCH}) gin_trgm_ops);

CREATE TABLE customer_group (
    id text NOT NULL,
    name text NOT NULL,
    metadata jsonb NULL,
    created_by text NULL,
    {TIMESTAMPS},
    CONSTRAINT customer_group_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX "IDX_customer_group_name_unique"
    ON customer_group (name) WHERE deleted_at IS NULL;
CREATE INDEX "IDX_customer_group_deleted_at" ON customer_group (deleted_at) WHERE deleted_at IS NULL;
CREATE INDEX "IDX_customer_group_search_trgm"
    ON customer_group USING gin (({GROUP_SEARCH}) gin_trgm_ops);

CREATE TABLE customer_group_customer (
    id text NOT NULL,
    customer_id text NOT NULL,
    customer_group_id text NOT NULL,
    created_by text NULL,
    metadata jsonb NULL,
    {TIMESTAMPS},
    CONSTRAINT customer_group_customer_pkey PRIMARY KEY (id),
    CONSTRAINT "FK_customer_group_customer_customer_id" FOREIGN KEY (customer_id)
        REFERENCES customer (id) ON UPDATE CASCADE ON DELETE CASCADE,
    CONSTRAINT "FK_customer_group_customer_customer_group_id" FOREIGN KEY (customer_group_id)
        REFERENCES customer_group (id) ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX "IDX_customer_group_customer_customer_group_id"
    ON customer_group_customer (customer_group_id) WHERE deleted_at IS NULL;
CREATE INDEX "IDX_customer_group_customer_customer_id" ON customer_group_customer (customer_id);
CREATE INDEX "IDX_customer_group_customer_deleted_at"
    ON customer_group_customer (deleted_at) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX "IDX_customer_group_customer_pair_unique"
    ON customer_group_customer (customer_id, customer_group_id) WHERE deleted_at IS NULL;

CREATE TABLE event_outbox (
    id bigserial NOT NULL,
    name text NOT NULL,
    data jsonb NOT NULL,
    internal boolean NOT NULL DEFAULT false,
    status text NOT NULL,
    event_group_id text NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    status_changed_at timestamptz NULL,
    CONSTRAINT event_outbox_pkey PRIMARY KEY (id),
    CONSTRAINT "CK_event_outbox_status" CHECK (status IN ('staged', 'released', 'discarded'))
);
CREATE INDEX "IDX_event_outbox_event_group_id" ON event_outbox (event_group_id);
CREATE INDEX "IDX_event_outbox_status_released" ON event_outbox (id) WHERE status = 'released';

CREATE TABLE operation_log (
    operation_id text NOT NULL,
    name text NOT NULL,
    result jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT operation_log_pkey PRIMARY KEY (operation_id)
);
"""


def upgrade() -> None:
    for statement in UPGRADE.split(";\n"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    for table in (
        "operation_log",
        "event_outbox",
        "customer_group_customer",
        "customer_group",
        "customer_address",
        "customer",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table}")
