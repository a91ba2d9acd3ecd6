#!/usr/bin/env bash
# Start a throw-away Redis on 127.0.0.1 for the several-workers tests and
# print its URL. Installs Debian's redis-server when it is missing. Nothing
# is written to disk (no snapshots, no append-only file); the pid goes to
# PAICHA_REDIS_PID_FILE, so it is stopped with:
#   kill "$(cat "$PAICHA_REDIS_PID_FILE")"
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq redis-server >&2
fi
PORT=${PAICHA_REDIS_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
DIR=$(mktemp -d /tmp/paicha-redis.XXXXXX)
redis-server --bind 127.0.0.1 --port "$PORT" --protected-mode yes \
  --save '' --appendonly no --dir "$DIR" \
  --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/log" >&2
for _ in $(seq 50); do
  redis-cli -h 127.0.0.1 -p "$PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p "$PORT" ping >/dev/null
for _ in $(seq 50); do [ -s "$DIR/redis.pid" ] && break; sleep 0.1; done
cat "$DIR/redis.pid" > "${PAICHA_REDIS_PID_FILE:-/dev/null}"
echo "redis://127.0.0.1:$PORT/0"
