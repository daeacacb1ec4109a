#!/bin/sh
# Entry point of deploy/compose/pgbouncer/Containerfile: writes pgbouncer.ini
# and its user list from the environment, then runs PgBouncer in the
# foreground as PID 1.
#
#   PGBOUNCER_DATABASE        database name clients ask for, and on the server
#   PGBOUNCER_USER            the one user the pool serves
#   PGBOUNCER_PASSWORD_FILE   file holding its password (a secret)
#   PGBOUNCER_SERVER_HOST     PostgreSQL server (port 5432)
#   PGBOUNCER_POOL_MODE       session (default) or transaction
#   PGBOUNCER_POOL_SIZE       server connections per database and user (20)
#   PGBOUNCER_MAX_CLIENT_CONN client connections accepted (1000)
set -eu

: "${PGBOUNCER_DATABASE:?}" "${PGBOUNCER_USER:?}" "${PGBOUNCER_PASSWORD_FILE:?}" "${PGBOUNCER_SERVER_HOST:?}"
POOL_MODE=${PGBOUNCER_POOL_MODE:-session}
case "$POOL_MODE" in
  session | transaction) ;;
  *) echo "PGBOUNCER_POOL_MODE must be session or transaction, not $POOL_MODE" >&2; exit 1 ;;
esac

dir=$(mktemp -d /tmp/pgbouncer.XXXXXX)
password=$(cat "$PGBOUNCER_PASSWORD_FILE")
# auth_file: "user" "password" (PgBouncer does the SCRAM exchange with the
# client and with the server from it). Quotes inside are doubled.
printf '"%s" "%s"\n' "$PGBOUNCER_USER" "$(printf '%s' "$password" | sed 's/"/""/g')" >"$dir/userlist.txt"
chmod 600 "$dir/userlist.txt"

cat >"$dir/pgbouncer.ini" <<INI
[databases]
$PGBOUNCER_DATABASE = host=$PGBOUNCER_SERVER_HOST port=5432 dbname=$PGBOUNCER_DATABASE

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = $POOL_MODE
default_pool_size = ${PGBOUNCER_POOL_SIZE:-20}
max_client_conn = ${PGBOUNCER_MAX_CLIENT_CONN:-1000}
; Protocol-level named prepared statements, also in transaction mode (PgBouncer 1.21+).
max_prepared_statements = 200
; The API sends "-c TimeZone=UTC -c statement_timeout=..." in the startup
; options: PgBouncer applies TimeZone per client and cannot forward the rest,
; so the statement timeout of pooled connections is the server's default
; (docker-compose.yml starts PostgreSQL with statement_timeout=10s).
ignore_startup_parameters = options,extra_float_digits
; A server connection that cannot be reached fails the client at once, so the
; API answers 503 instead of waiting.
server_login_retry = 1
query_wait_timeout = 10
log_connections = 0
log_disconnections = 0
log_pooler_errors = 1
INI

exec pgbouncer "$dir/pgbouncer.ini"
