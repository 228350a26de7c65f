#!/usr/bin/env bash
# Creates the database roles of the benchpipe stack. Run by the timescaledb image's entrypoint once, when the data
# volume is initialised (mounted as /docker-entrypoint-initdb.d/100-benchpipe-roles.sh, after the image's own
# 000_install_timescaledb.sh); run it again by hand (docker compose exec timescaledb bash
# /docker-entrypoint-initdb.d/100-benchpipe-roles.sh) after changing a password: every statement is idempotent.
#
# Roles:
#   $POSTGRES_USER      owner of the database; the sink connects as it, runs the migrations and owns the tables.
#   $HASURA_DB_USER     Hasura. Reads the tables (SELECT only: the GraphQL API has no mutations) and keeps its own
#                       metadata in schema hdb_catalog, hence CREATE on the database.
#   $GRAFANA_DB_USER    the read-only role: Grafana's data source and sink api (which reads agents and jobs). SELECT
#                       only, read-only transactions, a statement timeout.
# Tables are created later, by the sink's migrations as $POSTGRES_USER, so the grants are default privileges of
# that role. Neither reader gets the benchpipe schema (the sink's own bookkeeping).
#
# Inputs (environment): POSTGRES_USER, POSTGRES_DB, HASURA_DB_USER, HASURA_DB_PASSWORD, GRAFANA_DB_USER,
# GRAFANA_DB_PASSWORD. psql connects with the usual PG* variables (the image's socket during initialisation).
set -euo pipefail

: "${POSTGRES_USER:?}" "${POSTGRES_DB:?}"
: "${HASURA_DB_USER:?}" "${HASURA_DB_PASSWORD:?}"
: "${GRAFANA_DB_USER:?}" "${GRAFANA_DB_PASSWORD:?}"

# Values travel as psql variables and are quoted by psql (:'var' for literals, :"var" for identifiers), so a
# password may contain any character. format() builds the statements that take no bind parameters.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" \
	-v hasura_user="$HASURA_DB_USER" -v hasura_password="$HASURA_DB_PASSWORD" \
	-v grafana_user="$GRAFANA_DB_USER" -v grafana_password="$GRAFANA_DB_PASSWORD" <<'SQL'
-- Hasura's metadata catalogue uses gen_random_uuid() and pgcrypto; create it here, as the superuser.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

SELECT format('CREATE ROLE %I LOGIN', :'hasura_user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'hasura_user') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'grafana_user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'grafana_user') \gexec

ALTER ROLE :"hasura_user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'hasura_password';
ALTER ROLE :"grafana_user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'grafana_password';
ALTER ROLE :"grafana_user" SET default_transaction_read_only = on;
ALTER ROLE :"grafana_user" SET statement_timeout = '30s';

REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, CREATE ON DATABASE :"db" TO :"hasura_user";
GRANT CONNECT ON DATABASE :"db" TO :"grafana_user";

-- PostgreSQL 15+ no longer lets PUBLIC create in schema public; say so for older servers too.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"hasura_user", :"grafana_user";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"hasura_user", :"grafana_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"hasura_user", :"grafana_user";
SQL
