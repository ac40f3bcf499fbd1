#!/bin/sh
# First start of the compose PostgreSQL: the application's and Temporal's users and databases.
set -eu
psql -v ON_ERROR_STOP=1 --username postgres <<SQL
CREATE USER customer_flows PASSWORD '${APP_DB_PASSWORD}';
CREATE DATABASE customer_flows OWNER customer_flows;
CREATE USER temporal PASSWORD '${TEMPORAL_DB_PASSWORD}' CREATEDB;
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL
psql -v ON_ERROR_STOP=1 --username postgres -d customer_flows -c 'CREATE EXTENSION IF NOT EXISTS pg_trgm'
