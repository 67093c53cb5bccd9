#!/usr/bin/env bash
# Side by side, in one run, over one synthetic downloader file of N hashes:
#   1. propsec's corpus (breach.Import + breach.Checker);
#   2. a binary search over the downloader's sorted text file;
#   3. SQLite (modernc.org/sqlite) with the hash as the primary key.
# Reports import MB/s, bytes on disk per hash, warm lookups/s (2 cores) and
# cold p50/p99 (drop_caches when permitted, posix_fadvise DONTNEED before
# every sample). See TestBreachSideBySide in breach_test.go.
#
# Usage: bench/breach.sh [N] [workdir]     e.g. bench/breach.sh 1M; bench/breach.sh 100M /tmp/pwnedbench
# The generated files (N × ~44 bytes of text, plus the corpus and the
# database) stay in workdir (default /tmp/pwnedbench) for reruns; they are
# never committed. BREACH_COLD, BREACH_WARM, BREACH_SYSTEMS and
# BREACH_REUSE=1 pass through to the test.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")"
N=${1:-1M}
WORK=${2:-/tmp/pwnedbench}
mkdir -p "$WORK/$N"
echo "== disk"; df -h "$WORK" | tail -1
echo "== drop_caches: $([ -w /proc/sys/vm/drop_caches ] && echo writable || echo 'not permitted (posix_fadvise only)')"
go build -o "$WORK/pwnedgen" ./cmd/pwnedgen
TXT="$WORK/pwned-$N.txt"
if [ ! -f "$TXT" ]; then
  echo "== generating $TXT"
  "$WORK/pwnedgen" -n "$N" -out "$TXT"
fi
echo "== the example command, for the record"
go build -o "$WORK/pwned" ../examples/pwned
"$WORK/pwned" import -quiet -in "$TXT" -out "$WORK/$N/pwned-cmd.bin"
rm -f "$WORK/$N/pwned-cmd.bin"
echo "== side by side"
BREACH_TXT="$TXT" BREACH_DIR="$WORK/$N" go test -run '^TestBreachSideBySide$' -v -count=1 -timeout 0 . | grep -v '^=== RUN'
