#!/usr/bin/env bash
# govulncheck, offline: fails (non-zero) on any known vulnerability in code
# we call, in the source of both modules (./... and bench/...) and in the
# built example server (-mode binary, which sees the standard library that
# was really linked in).
#
# The database is built here from golang.org/x/vulndb as the Go module proxy
# serves it (data/osv/*.json, turned into a v1 database by its cmd/indexdb),
# so the check needs nothing but the proxy and is reproducible: the same
# pinned version gives the same verdict until it is bumped. To bump it:
#   go list -m golang.org/x/vulndb@latest
# and paste the version it prints into VULNDB_VERSION below.
#
# The toolchain checked is $GOTOOLCHAIN when set, else go1.27.3, the one
# .ci/run builds with; `GOTOOLCHAIN=local .ci/vulncheck.sh` checks this
# machine's own Go instead (on Go 1.26.8 it fails: 10 reachable
# standard-library vulnerabilities).
#
# govulncheck and the database are kept under $PROPSEC_CACHE (default
# ~/.cache/propsec), keyed by version, so later runs only scan.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
GOVULNCHECK_VERSION=v1.9.0

cache=${PROPSEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/propsec}
goversion=$(go env GOVERSION)
# Tools are built by the toolchain they check with: govulncheck type-checks
# the standard library's source, which an older go/types may not accept.
bin=$cache/bin/$goversion
db=$cache/vulndb/$VULNDB_VERSION
mkdir -p "$bin" "$cache/vulndb"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Cached files are made in a scratch directory beside their place and
# renamed into it, so that an interrupted or concurrent run never sees a
# half-written one.
govulncheck=$bin/govulncheck-$GOVULNCHECK_VERSION
if [ ! -x "$govulncheck" ]; then
  tmp=$(mktemp -d "$bin/.install.XXXXXX")
  GOBIN=$tmp go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
  mv "$tmp/govulncheck" "$govulncheck"
  rm -rf "$tmp"
fi

if [ ! -f "$db/index/db.json" ]; then
  GOBIN=$work go install "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION"
  # Outside our module, so that its go.sum is left alone.
  src=$(cd "$work" && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src/data/osv" ] || { echo "vulncheck: no data/osv in golang.org/x/vulndb@$VULNDB_VERSION ($src)" >&2; exit 1; }
  tmp=$(mktemp -d "$cache/vulndb/.build.XXXXXX")
  "$work/indexdb" -vulns "$src/data/osv" -out "$tmp/db"
  # -T: fail rather than move into a database another run put there first.
  mv -T "$tmp/db" "$db" 2>/dev/null || [ -f "$db/index/db.json" ]
  rm -rf "$tmp"
fi

echo "govulncheck $GOVULNCHECK_VERSION, $goversion, golang.org/x/vulndb@$VULNDB_VERSION"
go build -o "$work/server" ./examples/server
# Every scan runs, and the script fails if any reported a vulnerability in
# code we call (govulncheck's exit status 3) or could not run.
failed=()
scan() {
  local what=$1; shift
  echo "-- $what"
  "$govulncheck" -db "file://$db" "$@" || failed+=("$what")
}
scan "source: ./..." ./...
scan "source: bench/..." -C bench ./...
scan "binary: examples/server" -mode binary "$work/server"
if [ ${#failed[@]} -gt 0 ]; then
  echo "vulncheck: failed: ${failed[*]}" >&2
  exit 1
fi
