#!/usr/bin/env bash
# The cost of metrics, side by side in one run: the authenticated
# GET /api/security/csrf-token under wrk on the example server (SQLite,
# 10,000 live sessions) without and with -metrics-addr, rounds alternating.
# Each round ends with one scrape of /metrics, as Prometheus would make.
# Usage: bench/metrics.sh [duration-seconds] [rounds]
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")"
DUR=${1:-10}
ROUNDS=${2:-4}
source ./lib.sh
need_wrk
bench_setup

# Built in the root module: its go.sum, not bench's, covers the server's deps.
(cd .. && go build -o "$work/server" ./examples/server)
go build -o "$work/seed" ./cmd/seed

TOKEN=$("$work/seed" -db "$work/propsec.db" -n 10000)
# Both servers on one database (WAL; the GET only reads), so that neither
# has a different file or page cache: only the flag differs.
serve plain "$work/server" -db "$work/propsec.db" -addr 127.0.0.1:0
serve metrics "$work/server" -db "$work/propsec.db" -addr 127.0.0.1:0 -metrics-addr 127.0.0.1:0
P=$(url plain)
M=$(url metrics)
SCRAPE=$(sed -n 's/^metrics on //p' "$work/metrics.out")
for u in "$P" "$M"; do curl -sf -H "Authorization: Bearer $TOKEN" "$u/api/security/csrf-token" >/dev/null; done

rps() { measure "$work/wrk.out" "$@" | awk '{print $1}'; }
printf '%-28s %s\n' "server" "requests/s (wrk -t2 -c${CONNS:-32} -d${DUR}s), per round"
pa=(); ma=()
for r in $(seq "$ROUNDS"); do
  # Alternate which goes first, so neither always runs on a warmer machine.
  if ((r % 2)); then
    a=$(rps -H "Authorization: Bearer $TOKEN" "$P/api/security/csrf-token")
    b=$(rps -H "Authorization: Bearer $TOKEN" "$M/api/security/csrf-token")
  else
    b=$(rps -H "Authorization: Bearer $TOKEN" "$M/api/security/csrf-token")
    a=$(rps -H "Authorization: Bearer $TOKEN" "$P/api/security/csrf-token")
  fi
  curl -sf "$SCRAPE" >"$work/scrape.txt"
  grep -q '^propsec_authenticated_requests_seconds_count{class="2xx"}' "$work/scrape.txt" ||
    { echo "no propsec_authenticated_requests_seconds in the scrape" >&2; exit 1; }
  printf '%-28s %s\n' "round $r without metrics" "$a" "round $r -metrics-addr" "$b"
  pa+=("$a"); ma+=("$b")
done
echo
awk -v p="${pa[*]}" -v m="${ma[*]}" 'function mean(x,  n,a,i,t){n=split(x,a," ");t=0;for(i=1;i<=n;i++)t+=a[i];return t/n}
BEGIN{mp=mean(p);mm=mean(m);printf "mean without %.0f  with -metrics-addr %.0f  difference %+.1f%%\n",mp,mm,(mm-mp)/mp*100}'
