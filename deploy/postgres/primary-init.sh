#!/bin/sh
# The primary's first start (the image runs /docker-entrypoint-initdb.d/* once, on an empty
# data directory): a role for streaming replication, the physical slot the replica streams
# from (so the primary keeps the WAL the replica has not received yet, up to
# max_slot_wal_keep_size), and pg_hba.conf's permission for it, by password.
set -eu

psql -v ON_ERROR_STOP=1 -v password="$REPLICATION_PASSWORD" \
  --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot('replica1');
SQL

# "all" in pg_hba.conf does not cover replication connections: they need their own line.
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
