#!/usr/bin/env bash
# Side by side, in one run: GET /api/security/csrf-token, authenticated, under
# wrk, on
#   1. propsec's example server (SQLite) with 10,000 live sessions;
#   2. the peer stack: alexedwards/scs (SQLite store) + gorilla/csrf, 10,000 sessions;
#   3. a bare net/http handler writing the same JSON (the ceiling).
# Usage: bench/http.sh [duration-seconds] [rounds]
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")"
DUR=${1:-10}
ROUNDS=${2:-2}
source ./lib.sh
need_wrk
bench_setup

# Built in the root module: its go.sum, not bench's, covers the server's deps.
(cd .. && go build -o "$work/server" ./examples/server)
go build -o "$work/seed" ./cmd/seed
go build -o "$work/peer" ./cmd/peer

TOKEN=$("$work/seed" -db "$work/propsec.db" -n 10000)
serve server "$work/server" -db "$work/propsec.db" -addr 127.0.0.1:0
serve peer "$work/peer" -db "$work/peer.db" -addr 127.0.0.1:0 -sessions 10000
P=$(url server)
Q=$(url peer)
COOKIE=$(sed -n 's/^cookie //p' "$work/peer.out")
# gorilla/csrf sets its own cookie on the first GET; send it back, as a browser would.
GCOOKIE=$(curl -s -D - -o /dev/null -H "Cookie: $COOKIE" "$Q/api/security/csrf-token" | sed -n 's/^Set-Cookie: \(_gorilla_csrf=[^;]*\).*/\1/ip' | tr -d '\r')
curl -sf -H "Authorization: Bearer $TOKEN" "$P/api/security/csrf-token" >/dev/null
curl -sf -H "Cookie: $COOKIE; $GCOOKIE" "$Q/api/security/csrf-token" >/dev/null

rps() { measure "$work/wrk.out" "$@" | awk '{print $1}'; }
printf '%-28s %s\n' "stack" "requests/s (wrk -t2 -c32 -d${DUR}s), per round"
pa=(); sa=(); ba=()
for r in $(seq "$ROUNDS"); do
  a=$(rps -H "Authorization: Bearer $TOKEN" "$P/api/security/csrf-token")
  b=$(rps -H "Cookie: $COOKIE; $GCOOKIE" "$Q/api/security/csrf-token")
  c=$(rps "$Q/bare")
  printf '%-28s %s\n' "round $r propsec" "$a" "round $r scs+gorilla/csrf" "$b" "round $r bare net/http" "$c"
  pa+=("$a"); sa+=("$b"); ba+=("$c")
done
echo
awk -v p="${pa[*]}" -v s="${sa[*]}" -v b="${ba[*]}" 'function mean(x,  n,a,i,t){n=split(x,a," ");t=0;for(i=1;i<=n;i++)t+=a[i];return t/n}
BEGIN{mp=mean(p);ms=mean(s);mb=mean(b);printf "mean propsec %.0f  scs+gorilla/csrf %.0f  bare %.0f  ratio propsec/peer %.2f\n",mp,ms,mb,mp/ms}'
