#!/bin/sh
# The first start on an empty $PGDATA creates the cluster: the superuser `postgres` logs in
# only through the container's own socket; POSTGRES_USER (a login role with the password
# POSTGRES_PASSWORD, by SCRAM from any address) owns the database POSTGRES_DB. Later starts
# find the cluster and only start the server.
set -eu
: "${POSTGRES_USER:?POSTGRES_USER is required}" "${POSTGRES_DB:?POSTGRES_DB is required}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb --username=postgres --auth-local=peer --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    # Reachable through the socket only while the role and database are made.
    pg_ctl --wait --options="-c listen_addresses=''" start
    # psql's variables quote the names and the password; stdin keeps the password off the
    # process list.
    psql --quiet --set=ON_ERROR_STOP=1 --username=postgres --dbname=postgres \
        --set=user="$POSTGRES_USER" --set=password="$POSTGRES_PASSWORD" \
        --set=db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"user";
SQL
    pg_ctl --wait --mode=fast stop
fi
exec postgres
