"""Auth module of the HTTP API (auth/models.py): emailpass auth identities, admin users, API keys,
and the API's idempotency keys.

Revision ID: 0003
Revises: 0001
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE auth_identity (
    id text NOT NULL,
    email text NOT NULL,
    password_hash text NOT NULL,
    app_metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT auth_identity_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX "IDX_auth_identity_email_unique" ON auth_identity (lower(email));

CREATE TABLE admin_user (
    id text NOT NULL,
    email text NOT NULL,
    first_name text NULL,
    last_name text NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT admin_user_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX "IDX_admin_user_email_unique" ON admin_user (lower(email));

CREATE TABLE api_key (
    id text NOT NULL,
    token text NOT NULL,
    redacted text NOT NULL,
    title text NOT NULL,
    type text NOT NULL,
    created_by text NOT NULL,
    revoked_by text NULL,
    revoked_at timestamptz NULL,
    last_used_at timestamptz NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_key_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX "IDX_api_key_token_unique" ON api_key (token);

CREATE TABLE api_idempotency_key (
    actor_id text NOT NULL,
    key text NOT NULL,
    digest text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_idempotency_key_pkey PRIMARY KEY (actor_id, key)
);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP TABLE api_idempotency_key, api_key, admin_user, auth_identity")
