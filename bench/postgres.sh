#!/usr/bin/env bash
# Side by side, in one run: the example server on SQLite and on PostgreSQL,
# each seeded with the same 10,000 live sessions (bench/cmd/seed), under wrk:
#   me    GET /api/me                   a host route behind propsec's
#                                       authentication: one session+user read
#   csrf  GET /api/security/csrf-token  authenticate + issue a token (no write)
# The two stores alternate within every round (which goes first alternates
# too), so slow phases of a noisy machine fall on both.
#
# PostgreSQL is a throwaway cluster of .ci/postgres.sh on 127.0.0.1, started
# and stopped by this script. Server, PostgreSQL and wrk share this
# machine's cores.
#
# For each run: requests/s and latency p50/p99 from wrk --latency, and the
# CPU time the server process and the PostgreSQL cluster (postmaster and
# backends) used per request, from /proc. At the end, per endpoint: the means
# and the cost ratio PostgreSQL/SQLite (SQLite's requests/s over
# PostgreSQL's, as a per-request time), overall and round by round.
#
# Usage: bench/postgres.sh [duration-seconds] [rounds]
# Environment: CONNS   wrk connections (default 32)
#              PG_PARAMS  extra DSN parameters for the server on PostgreSQL,
#                         e.g. pool_max_conns=8
#              PG_SOCKET  when set, the server reaches PostgreSQL over its Unix
#                         socket rather than TCP on 127.0.0.1
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")"
DUR=${1:-10}
ROUNDS=${2:-3}
CONNS=${CONNS:-32}
source ./lib.sh
need_wrk
source ../.ci/postgres.sh
pg_start
bench_setup # its EXIT trap also runs pg_stop
PGDSN=$PROPSEC_TEST_POSTGRES
[ -z "${PG_PARAMS:-}" ] || PGDSN="$PGDSN&$PG_PARAMS"
[ -z "${PG_SOCKET:-}" ] || PGDSN="$PGDSN&host=$PG_DIR"
echo "server on PostgreSQL: ${PGDSN#*\?}"

(cd .. && go build -o "$work/server" ./examples/server)
go build -o "$work/seed" ./cmd/seed
TOKEN_sqlite=$("$work/seed" -db "$work/propsec.db" -n 10000)
TOKEN_postgres=$("$work/seed" -db "$PROPSEC_TEST_POSTGRES" -n 10000)
# So that autovacuum, which the seeding woke, does not run while measured.
"$PROPSEC_TEST_PGBIN/psql" -q "$PROPSEC_TEST_POSTGRES" -c 'VACUUM ANALYZE'
serve sqlite "$work/server" -db "$work/propsec.db" -addr 127.0.0.1:0
serve postgres "$work/server" -db "$PGDSN" -addr 127.0.0.1:0
URL_sqlite=$(url sqlite)
URL_postgres=$(url postgres)
PGPID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
HZ=$(getconf CLK_TCK)

# ticks PID: CPU time (user + system) PID used so far, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# pg_ticks: the cluster's CPU time so far: the postmaster's, its live
# children's (backends, workers) and its ended children's (which the kernel
# adds to the postmaster's once reaped). Backends do come and go: when wrk
# stops, requests in flight are cancelled, and pgx closes a connection
# whose query's context is cancelled, so the pool reconnects on the next run.
# A backend that has ended but is not yet reaped is in neither sum: read
# pg_ticks a moment after wrk stops.
pg_ticks() {
  local t c
  t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$PGPID/stat")
  for c in $(pgrep -P "$PGPID"); do t=$((t + $(ticks "$c" 2>/dev/null || echo 0))); done
  echo "$t"
}
# cpu SERVER-TICKS PG-TICKS REQUESTS: "server-µs pg-µs" per request.
cpu() { awk -v s="$1" -v g="$2" -v n="$3" -v hz="$HZ" 'BEGIN { printf "%.1f %.1f\n", s * 1e6 / hz / n, g * 1e6 / hz / n }'; }

path_me=/api/me
path_csrf=/api/security/csrf-token
for s in sqlite postgres; do
  tok=TOKEN_$s u=URL_$s
  for e in me csrf; do
    p=path_$e
    curl -sf -H "Authorization: Bearer ${!tok}" "${!u}${!p}" >/dev/null
  done
  # Warm up: pool connections, prepared statements, caches.
  DUR=2 measure "$work/warm.out" -H "Authorization: Bearer ${!tok}" "${!u}$path_csrf" >/dev/null
done

echo "wrk -t2 -c$CONNS -d${DUR}s --latency; CPU µs per request from /proc ($(nproc) cores shared by server, PostgreSQL and wrk)"
printf '%-5s %-5s %-8s %9s %8s %8s %11s %9s\n' round path store 'req/s' 'p50 µs' 'p99 µs' 'server µs' 'pg µs'
: >"$work/results"
for r in $(seq "$ROUNDS"); do
  order="sqlite postgres"
  [ $((r % 2)) -eq 1 ] || order="postgres sqlite"
  for e in me csrf; do
    for s in $order; do
      tok=TOKEN_$s u=URL_$s p=path_$e
      spid=$(cat "$work/$s.pid")
      s0=$(ticks "$spid") g0=$(pg_ticks)
      read -r rps p50 p99 n < <(measure "$work/wrk.out" -H "Authorization: Bearer ${!tok}" "${!u}${!p}")
      sleep 1 # for backends ended by wrk's stop to be reaped (see pg_ticks)
      s1=$(ticks "$spid") g1=$(pg_ticks)
      read -r scpu gcpu < <(cpu $((s1 - s0)) $((g1 - g0)) "$n")
      printf '%-5s %-5s %-8s %9.0f %8s %8s %11s %9s\n' "$r" "$e" "$s" "$rps" "$p50" "$p99" "$scpu" "$gcpu"
      echo "$r $e $s $rps $p50 $p99 $scpu $gcpu" >>"$work/results"
    done
  done
done
echo
awk '
  function median(s,  a, n, i, j, x) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { k = $2 " " $3; rps[k] = rps[k] " " $4; p50[k] = p50[k] " " $5; p99[k] = p99[k] " " $6
    cs[k] += $7; cg[k] += $8; n[k]++; r[$1 " " k] = $4 }
  END {
    print "medians over the rounds (CPU: means)"
    printf "%-5s %-8s %9s %8s %8s %11s %9s %9s\n", "path", "store", "req/s", "p50 µs", "p99 µs", "server µs", "pg µs", "CPU µs"
    split("me csrf", es, " "); split("sqlite postgres", ss, " ")
    for (i = 1; i <= 2; i++) for (j = 1; j <= 2; j++) {
      k = es[i] " " ss[j]; cpu[k] = (cs[k] + cg[k]) / n[k]
      printf "%-5s %-8s %9.0f %8.0f %8.0f %11.1f %9.1f %9.1f\n", es[i], ss[j], median(rps[k]), median(p50[k]), median(p99[k]),
        cs[k] / n[k], cg[k] / n[k], cpu[k]
    }
    print ""
    print "cost PostgreSQL/SQLite per request (goal: at most 2x)"
    for (i = 1; i <= 2; i++) {
      e = es[i]; line = ""
      for (x = 1; x <= n[e " sqlite"]; x++) line = line sprintf(" %.2f", r[x " " e " sqlite"] / r[x " " e " postgres"])
      printf "%-5s by req/s %.2fx (rounds:%s); by CPU (server + PostgreSQL) %.2fx\n", e,
        median(rps[e " sqlite"]) / median(rps[e " postgres"]), line, cpu[e " postgres"] / cpu[e " sqlite"]
    }
  }' "$work/results"
