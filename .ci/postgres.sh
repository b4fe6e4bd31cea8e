#!/usr/bin/env bash
# Start a throw-away PostgreSQL on loopback for the ledger's PostgreSQL tests and print
# "URL DATADIR BINDIR" (URL for TANPO_TEST_POSTGRES_URL). Best effort: installs Debian's postgresql
# when it is missing and we may (root + apt-get); on any failure prints nothing and
# exits 0, and the PostgreSQL tests skip with their reason.
set -u
log() { echo "ci/postgres: $*" >&2; }

bindir=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir=$d; done
if [ -z "$bindir" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing postgresql from Debian"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2 \
    || { log "install failed; PostgreSQL tests will skip"; exit 0; }
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir=$d; done
fi
[ -n "$bindir" ] || { log "no PostgreSQL server here; its tests will skip"; exit 0; }

run_as=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres >&2 || exit 0
  run_as=(runuser -u postgres --)
fi
dir=$(mktemp -d /tmp/tanpo-ci-pg.XXXXXX)
chmod 700 "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${run_as[@]}" "$bindir/initdb" -D "$dir/data" -U tanpo --auth=trust -E UTF8 >/dev/null 2>&1 \
  || { log "initdb failed; PostgreSQL tests will skip"; exit 0; }
"${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=on" start >/dev/null 2>&1 \
  || { log "server did not start (see $dir/log); PostgreSQL tests will skip"; exit 0; }
log "PostgreSQL running on 127.0.0.1:$port (data in $dir)"
echo "postgresql://tanpo@127.0.0.1:$port/postgres $dir $bindir"
