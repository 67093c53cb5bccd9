# Throwaway PostgreSQL cluster for the tests; source this file, then call
# pg_start. It installs Debian's postgresql package when no server binaries
# are found, runs initdb in a temp dir, starts the server with pg_ctl on
# 127.0.0.1 at a free port (and its Unix socket in the same temp dir), and
# exports:
#   PROPSEC_TEST_POSTGRES  DSN of a database "propsec" on that cluster
#   PROPSEC_TEST_PGBIN     the server's bin directory (initdb, pg_ctl, postgres),
#                          for tests that start and stop clusters of their own
#   PROPSEC_TEST_PGUSER    the OS user the server runs as, when we are root
#                          (PostgreSQL refuses to run as root)
# pg_stop stops the cluster and removes its directory; pg_start installs it
# as an EXIT trap, so the cluster goes away even when a later step fails.

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && echo "$d"
}

# pg_as runs a command as the cluster's OS user.
pg_as() {
  if [ -n "${PROPSEC_TEST_PGUSER:-}" ]; then
    runuser -u "$PROPSEC_TEST_PGUSER" -- "$@"
  else
    "$@"
  fi
}

pg_free_port() {
  local p
  for p in $(shuf -i 20000-60000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

pg_start() {
  local bin
  bin=$(pg_bindir || true)
  if [ -z "$bin" ]; then
    echo "installing postgresql from Debian's packages"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    bin=$(pg_bindir)
  fi
  export PROPSEC_TEST_PGBIN="$bin"
  PG_DIR=$(mktemp -d /tmp/propsec-pg.XXXXXX)
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    export PROPSEC_TEST_PGUSER=postgres
    chown "$PROPSEC_TEST_PGUSER" "$PG_DIR"
  fi
  chmod 0755 "$PG_DIR"
  trap pg_stop EXIT
  pg_as "$bin/initdb" -D "$PG_DIR/data" -U propsec -A trust -E UTF8 --no-instructions >"$PG_DIR/initdb.log" 2>&1 ||
    { cat "$PG_DIR/initdb.log"; return 1; }
  local port
  port=$(pg_free_port)
  pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c max_connections=200" start >/dev/null ||
    { cat "$PG_DIR/server.log"; return 1; }
  pg_as "$bin/psql" -q -h 127.0.0.1 -p "$port" -U propsec -d postgres -c 'CREATE DATABASE propsec' >/dev/null
  export PROPSEC_TEST_POSTGRES="postgres://propsec@127.0.0.1:$port/propsec?sslmode=disable"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $PG_DIR)"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    pg_as "$PROPSEC_TEST_PGBIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_DIR"
  PG_DIR=""
}
