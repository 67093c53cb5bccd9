#!/usr/bin/env bash
# Real-time file integrity detection (integrity.Config.Realtime), through
# the Go API on a SQLite store (see cmd/rtbench):
#   latency from a write's close(2) to the stored alert, p50/p99/max over
#   1,000 distinct files of a 10,000-file tree (100 dirs x 100 files),
#   paced (one every 10 ms) and all at once; CPU per change; CPU while idle
#   (getrusage over 10 s);
#   100,000 directories: the time to add every watch, Go heap per watched
#   directory, the first full scan, peak RSS.
# Usage: bench/realtime.sh [rounds]
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")"
ROUNDS=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/rtbench" ./cmd/rtbench
echo "$(nproc) cores; kernel $(uname -r); fs.inotify.max_user_watches=$(cat /proc/sys/fs/inotify/max_user_watches) max_queued_events=$(cat /proc/sys/fs/inotify/max_queued_events)"
for r in $(seq "$ROUNDS"); do
	echo "== round $r (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	"$work/rtbench" -mode latency -gap 10ms -idle 10s 2>/dev/null
	"$work/rtbench" -mode latency -gap 0 -idle 1s 2>/dev/null | grep -E '^(changes|cpu)'
	"$work/rtbench" -mode dirs -dirs 100000 2>/dev/null
done
