#!/usr/bin/env bash
# Start a throw-away PostgreSQL on 127.0.0.1 for the storage tests and print
# its URL. Installs Debian's server package when it is missing. A fresh data
# directory each run (PAICHA_PG_DIR), stopped with:
#   su postgres -c "pg_ctl -D $PAICHA_PG_DIR stop"
set -euo pipefail
PORT=${PAICHA_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
DIR=${PAICHA_PG_DIR:-$(mktemp -d /tmp/paicha-pg.XXXXXX)}
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
id postgres >/dev/null 2>&1 || useradd -r -m postgres
mkdir -p "$DIR"; chown postgres "$DIR"; chmod 700 "$DIR"
if [ ! -s "$DIR/PG_VERSION" ]; then
  su postgres -c "$BIN/initdb -D $DIR -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
fi
su postgres -c "$BIN/pg_ctl -D $DIR -l $DIR/log -w -o \"-c listen_addresses=127.0.0.1 -p $PORT -k /tmp -c fsync=off -c max_connections=200\" start" >&2
echo "$DIR" > "${PAICHA_PG_DIR_FILE:-/dev/null}"
echo "postgresql+asyncpg://postgres@127.0.0.1:$PORT/postgres"
