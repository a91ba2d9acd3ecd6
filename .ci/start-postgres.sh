#!/usr/bin/env bash
# Start a throw-away PostgreSQL on 127.0.0.1 for the storage tests and print
# its URL. Installs Debian's server package when it is missing.
set -euo pipefail
PORT=${PAICHA_PG_PORT:-54329}
DIR=${PAICHA_PG_DIR:-/tmp/paicha-pg}
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
id postgres >/dev/null 2>&1 || useradd -r -m postgres
if [ ! -s "$DIR/PG_VERSION" ]; then
  rm -rf "$DIR"; mkdir -p "$DIR"; chown postgres "$DIR"
  su postgres -c "$BIN/initdb -D $DIR -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >&2
fi
if ! su postgres -c "$BIN/pg_ctl -D $DIR status" >/dev/null 2>&1; then
  su postgres -c "$BIN/pg_ctl -D $DIR -l $DIR/log -w -o \"-c listen_addresses=127.0.0.1 -p $PORT -k /tmp -c fsync=off\" start" >&2
fi
echo "postgresql+asyncpg://postgres@127.0.0.1:$PORT/postgres"
