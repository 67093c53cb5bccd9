# Shell functions shared by the bench scripts (http.sh, postgres.sh); source
# it from bench/ after `set -euo pipefail`.

# need_wrk installs wrk from Debian's packages when it is missing.
need_wrk() {
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
}

# bench_setup makes the scratch directory $work and installs an EXIT trap
# that kills what serve started, removes $work and, when .ci/postgres.sh
# was sourced, stops its cluster (its own EXIT trap is replaced by this one).
bench_setup() {
  work=$(mktemp -d)
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
  if declare -F pg_stop >/dev/null; then pg_stop; fi
}

# serve NAME CMD [ARG…] runs a server in the background, its stdout in
# $work/NAME.out (stderr discarded), and records its pid in pids and in
# $work/NAME.pid.
serve() {
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>/dev/null &
  pids+=($!)
  echo $! >"$work/$name.pid"
}

# url NAME waits for the server serve started as NAME to print
# "listening on URL" and prints URL.
url() {
  local _
  for _ in $(seq 100); do grep -q '^listening on' "$work/$1.out" && break; sleep 0.1; done
  sed -n 's/^listening on //p' "$work/$1.out" | grep . || { echo "$1 did not start" >&2; return 1; }
}

# measure OUT [WRK-ARG…] runs wrk -t2 -c$CONNS -d${DUR}s --latency with
# the given arguments, keeps its report in OUT and prints
# "requests/s p50-µs p99-µs requests". It fails when any response was not
# 2xx or 3xx, or a socket error occurred: such a run measures the failure.
measure() {
  local out=$1
  shift
  wrk -t2 -c"${CONNS:-32}" -d"${DUR}s" --latency "$@" >"$out"
  if grep -qE 'Non-2xx|Socket errors' "$out"; then
    echo "wrk saw failed requests:" >&2
    cat "$out" >&2
    return 1
  fi
  awk 'function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = us($2) }
    $1 == "99%" { p99 = us($2) }
    / requests in / { n = $1 }
    END { printf "%s %.0f %.0f %s\n", rps, p50, p99, n }' "$out"
}
