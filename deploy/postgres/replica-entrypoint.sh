#!/bin/sh
# The streaming replica. On its first start (an empty data directory) it copies the primary
# with pg_basebackup: --write-recovery-conf leaves standby.signal and primary_conninfo (with
# the slot), so PostgreSQL starts as a read-only hot standby and streams from the primary.
# Then, and on every later start, the image's own entrypoint runs postgres.
# Runs as the postgres user (docker-compose.yml: `user: postgres`).
set -eu

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -q -h "$PRIMARY_HOST" -p 5432; do
    echo "replica: waiting for the primary at $PRIMARY_HOST"
    sleep 1
  done
  echo "replica: copying the primary (pg_basebackup)"
  # On failure pg_basebackup empties the directory again, so the next start retries.
  PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup \
    --host="$PRIMARY_HOST" --port=5432 --username=replicator --no-password \
    --pgdata="$PGDATA" --wal-method=stream --checkpoint=fast \
    --slot=replica1 --write-recovery-conf
  chmod 0700 "$PGDATA"
fi

exec docker-entrypoint.sh postgres "$@"
