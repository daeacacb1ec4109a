#!/bin/sh
# Entry point of .ci/podman/postgres.Containerfile. Runs as the postgres user.
# On an empty data directory: initdb with POSTGRES_USER as superuser and
# POSTGRES_PASSWORD as its password, a set-up server on the Unix socket only
# to create POSTGRES_DB, then the real server. postgres ends up as PID 1, so
# the container's stop signal (SIGINT: fast shutdown) reaches it directly.
set -eu

if [ "${1:-postgres}" != postgres ]; then
  exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
fi
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) is required" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  printf 'host all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"

  pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait start
  if [ "$POSTGRES_DB" != postgres ]; then
    # psql interpolates :"db" (quoted as an identifier) in its input, not in --command.
    echo 'CREATE DATABASE :"db"' | psql --no-psqlrc --username="$POSTGRES_USER" --dbname=postgres \
      --set ON_ERROR_STOP=1 --quiet --set db="$POSTGRES_DB"
  fi
  pg_ctl --pgdata="$PGDATA" --mode=fast --wait stop
fi

exec "$@"
