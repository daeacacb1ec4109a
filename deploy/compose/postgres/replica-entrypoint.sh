#!/bin/sh
# Entry point of docker-compose.yml's `postgres-replica`, in the same image as
# the primary, as the postgres user. On an empty data directory it copies the
# primary with pg_basebackup (-R: it starts as a standby streaming from the
# primary, -X stream: with the WAL written during the copy), then runs
# PostgreSQL, which replays the primary's WAL as it arrives. A replica whose
# data directory exists starts streaming where it stopped.
#
#   PRIMARY_HOST             the primary (port 5432)
#   REPLICATION_USER         a role with REPLICATION (here the superuser)
#   REPLICATION_PASSWORD_FILE  file holding its password (a secret)
# Further arguments are PostgreSQL's (`postgres -c ...`).
set -eu

: "${PGDATA:=/var/lib/postgresql/data}" "${PRIMARY_HOST:?}" "${REPLICATION_USER:?}" "${REPLICATION_PASSWORD_FILE:?}"

# libpq's password file for pg_basebackup and the streaming connection,
# written at every start (outside the data volume, so a changed secret applies):
# primary_conninfo names it instead of holding the password.
passfile=/tmp/replication.pgpass
printf '%s:5432:*:%s:%s\n' "$PRIMARY_HOST" "$REPLICATION_USER" "$(cat "$REPLICATION_PASSWORD_FILE")" >"$passfile"
chmod 600 "$passfile"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -q -h "$PRIMARY_HOST" -p 5432 -U "$REPLICATION_USER"; do
    echo "replica: waiting for the primary at $PRIMARY_HOST:5432" >&2
    sleep 1
  done
  echo "replica: copying the primary (pg_basebackup)" >&2
  # What a failed earlier copy left (there is no cluster here: no PG_VERSION).
  find "$PGDATA" -mindepth 1 -delete
  PGPASSFILE=$passfile pg_basebackup --pgdata="$PGDATA" --host="$PRIMARY_HOST" --port=5432 --username="$REPLICATION_USER" \
    --wal-method=stream --write-recovery-conf --checkpoint=fast --no-password
  # -R wrote primary_conninfo without the password; the last setting wins.
  printf "primary_conninfo = 'host=%s port=5432 user=%s passfile=%s application_name=replica'\n" \
    "$PRIMARY_HOST" "$REPLICATION_USER" "$passfile" >>"$PGDATA/postgresql.auto.conf"
  chmod 0700 "$PGDATA"
fi

exec postgres "$@"
