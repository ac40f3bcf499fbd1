#!/bin/sh
# First start of the compose PostgreSQL: roles and databases.
#   customer_flows_owner  owns the application's schema; only the migrate job logs in as it.
#   customer_flows        the worker's and the API's role: reads and writes rows, no DDL, and a
#                         statement_timeout of its own (the engine sets one too).
#   temporal              Temporal's databases.
# Passwords come from the environment through psql's \getenv into psql variables, quoted by
# psql (:'var'): never pasted into SQL text, never on a command line.
set -eu
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
\getenv owner_password APP_OWNER_DB_PASSWORD
\getenv app_password APP_DB_PASSWORD
\getenv temporal_password TEMPORAL_DB_PASSWORD
CREATE ROLE customer_flows_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE customer_flows LOGIN PASSWORD :'app_password';
ALTER ROLE customer_flows SET statement_timeout = '20s';
ALTER ROLE customer_flows SET lock_timeout = '10s';
CREATE DATABASE customer_flows OWNER customer_flows_owner;
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password' CREATEDB;
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
\connect customer_flows
CREATE EXTENSION IF NOT EXISTS pg_trgm;
REVOKE ALL ON DATABASE customer_flows FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE customer_flows TO customer_flows;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO customer_flows_owner;
GRANT USAGE ON SCHEMA public TO customer_flows;
ALTER DEFAULT PRIVILEGES FOR ROLE customer_flows_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO customer_flows;
ALTER DEFAULT PRIVILEGES FOR ROLE customer_flows_owner IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO customer_flows;
SQL
