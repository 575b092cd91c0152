#!/usr/bin/env bash
# A throwaway PostgreSQL server on the loopback interface, for the multi-worker tests and
# for trying shared storage on one machine.
#   scripts/postgres.sh start DIR [PORT]   start it (installs Debian's postgresql if missing);
#                                          prints its URL, e.g. postgresql://moprune@127.0.0.1:55432/moprune
#   scripts/postgres.sh stop DIR           stop it
# Authentication is "trust" on 127.0.0.1 only: for tests, not for a shared deployment
# (the README's PostgreSQL section says how to set one up).
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop DIR [PORT]}
dir=$(mkdir -p "${2:?usage: postgres.sh start|stop DIR [PORT]}" && cd "$2" && pwd)
port=${3:-55432}

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  echo "postgres.sh: installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null || true
  $SUDO apt-get install -y -qq postgresql >/dev/null
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

# PostgreSQL refuses to run as root: run it as the postgres user then.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi

case "$cmd" in
  start)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -A trust -U moprune >"$dir/initdb.log"
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir" start >/dev/null
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U moprune -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='moprune'" | grep -q 1 \
      || as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U moprune moprune
    echo "postgresql://moprune@127.0.0.1:$port/moprune"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
    ;;
  *) echo "usage: postgres.sh start|stop DIR [PORT]" >&2; exit 2 ;;
esac
