#!/bin/sh
# pgbouncer on port 6432 in transaction pooling mode, for the one database DB_NAME of
# DB_HOST:DB_PORT: clients log in as DB_USER with DB_PASSWORD (SCRAM), and pgbouncer logs in
# to PostgreSQL with the same. Pool sizes: MAX_CLIENT_CONN (every replica's pools together)
# and DEFAULT_POOL_SIZE (server connections, within PostgreSQL's max_connections).
set -eu
: "${DB_HOST:?DB_HOST is required}" "${DB_NAME:?DB_NAME is required}"
: "${DB_USER:?DB_USER is required}" "${DB_PASSWORD:?DB_PASSWORD is required}"

config="$(mktemp -d)"
cat >"$config/pgbouncer.ini" <<INI
[databases]
$DB_NAME = host=$DB_HOST port=${DB_PORT:-5432} dbname=$DB_NAME

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $config/userlist.txt
pool_mode = transaction
max_client_conn = ${MAX_CLIENT_CONN:-200}
default_pool_size = ${DEFAULT_POOL_SIZE:-20}
INI
# The user list quotes each value in double quotes, a double quote inside written twice.
quoted() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }
echo "$(quoted "$DB_USER") $(quoted "$DB_PASSWORD")" >"$config/userlist.txt"
chmod 600 "$config/userlist.txt"
exec pgbouncer "$config/pgbouncer.ini"
