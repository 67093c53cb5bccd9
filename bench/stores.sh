#!/usr/bin/env bash
# The store benchmarks of internal/storebench (SessionByTokenHash, UserByID,
# Authenticate serial and parallel: the reads of every authenticated
# request) on SQLite (sqlitestore) and PostgreSQL (pgstore), interleaved
# run by run so that a slow phase of a noisy machine falls on both, then
# set side by side by benchstat (PostgreSQL's column against SQLite's).
#
# PostgreSQL is the server PROPSEC_TEST_POSTGRES names (a fresh schema per
# benchmark), else a throwaway cluster of .ci/postgres.sh, stopped at the
# end. It runs on this machine, sharing its cores with the benchmark.
#
# Usage: bench/stores.sh [count] [benchtime]   (defaults: 6 2s)
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")"
COUNT=${1:-6}
BENCHTIME=${2:-2s}
source ./lib.sh
if [ -z "${PROPSEC_TEST_POSTGRES:-}" ]; then
  source ../.ci/postgres.sh
  pg_start
fi
bench_setup
BENCHSTAT=${BENCHSTAT:-$(command -v benchstat || echo "$(go env GOPATH)/bin/benchstat")}

go test -c -o "$work/sqlite.test" ../sqlitestore
go test -c -o "$work/postgres.test" ../pgstore
for i in $(seq "$COUNT"); do
  for s in sqlite postgres; do
    "$work/$s.test" -test.run '^$' -test.bench 'SessionByTokenHash|UserByID|Authenticate' \
      -test.benchtime "$BENCHTIME" -test.count 1 | grep -v memstore | tee -a "$work/$s.raw" | grep '^Benchmark' >&2
  done
done
# One name per benchmark whatever the store, so that benchstat pairs them.
for s in sqlite postgres; do sed -E 's#/(sqlite|postgres)/#/#' "$work/$s.raw" >"$work/$s.txt"; done
(cd "$work" && "$BENCHSTAT" -ignore pkg sqlite=sqlite.txt postgres=postgres.txt)
