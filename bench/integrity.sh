#!/usr/bin/env bash
# File integrity, side by side in one run, on the Go toolchain's own tree
# ($(go env GOROOT), ~15k files, ~270 MB) with warm caches:
#   AIDE --init and --check (p+i+n+u+g+s+m+c+acl+xattrs+caps+sha256,
#   num_workers=2: what propsec records since issue 12);
#   propsec's baseline (Init) and scan through the Go API on SQLite;
#   the raw hashing floor: every file read and BLAKE3-hashed, nothing stored,
#   the cheapest way (openat relative to the directory, reads into one reused
#   buffer, as many workers as the scan; see cmd/fimbench).
# Then a scaling figure: a generated tree of 200,000 small files (not kept):
# propsec Init and Scan time and peak RSS.
# Usage: bench/integrity.sh [rounds] [small-files]
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")"
ROUNDS=${1:-3}
SMALL=${2:-200000}
command -v aide >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq aide >/dev/null; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/fimbench" ./cmd/fimbench
ROOT=$(go env GOROOT)
# Copy the tree so no build writes into it between runs, and warm the cache.
cp -a "$ROOT" "$work/goroot"
ROOT="$work/goroot"
find "$ROOT" -type f -exec cat {} + >/dev/null
nfiles=$(find "$ROOT" | wc -l); mb=$(du -sm "$ROOT" | cut -f1)
echo "tree: $ROOT: $nfiles paths, $mb MB; $(nproc) cores; AIDE $(aide --version 2>&1 | head -1 | awk '{print $2}')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

cat > "$work/aide.conf" <<CONF
database_in=file:$work/aide.db
database_out=file:$work/aide.db.new
database_new=file:$work/aide.db.new
gzip_dbout=no
num_workers=2
report_url=stdout
ALL = p+i+n+u+g+s+m+c+acl+xattrs+caps+sha256
$ROOT ALL
CONF

secs() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1; }
printf '%-26s %10s %12s\n' "step" "seconds" "maxrss MiB"
declare -a ai ac pi ps fl
for r in $(seq "$ROUNDS"); do
  rm -f "$work"/aide.db* "$work"/fim.db*
  read -r t m < <(secs aide --init -c "$work/aide.conf"); ai+=("$t")
  printf '%-26s %10s %12.1f\n' "r$r aide --init" "$t" "$(awk -v m="$m" 'BEGIN{print m/1024}')"
  mv "$work/aide.db.new" "$work/aide.db"
  # aide --check exits 0 only when nothing changed
  read -r t m < <(/usr/bin/time -f '%e %M' aide --check -c "$work/aide.conf" 2>&1 >/dev/null | tail -1); ac+=("$t")
  printf '%-26s %10s %12.1f\n' "r$r aide --check" "$t" "$(awk -v m="$m" 'BEGIN{print m/1024}')"
  line=$("$work/fimbench" -mode init -root "$ROOT" -db "$work/fim.db"); t=$(sed 's/.*seconds=\([^ ]*\).*/\1/' <<<"$line"); pi+=("$t")
  printf '%-26s %10s %12s\n' "r$r propsec init" "$t" "$(sed 's/.*maxrss_mib=\([^ ]*\).*/\1/' <<<"$line")"
  line=$("$work/fimbench" -mode scan -root "$ROOT" -db "$work/fim.db"); t=$(sed 's/.*seconds=\([^ ]*\).*/\1/' <<<"$line"); ps+=("$t")
  printf '%-26s %10s %12s  (%s)\n' "r$r propsec scan" "$t" "$(sed 's/.*maxrss_mib=\([^ ]*\).*/\1/' <<<"$line")" "$(grep -o 'files=[0-9]* .*violations=[0-9]*' <<<"$line" | sed 's/seconds=[^ ]* maxrss_mib=[^ ]* //')"
  line=$("$work/fimbench" -mode floor -root "$ROOT"); t=$(sed 's/.*seconds=\([^ ]*\).*/\1/' <<<"$line"); fl+=("$t")
  printf '%-26s %10s %12s\n' "r$r hashing floor" "$t" "$(sed 's/.*maxrss_mib=\([^ ]*\).*/\1/' <<<"$line")"
done
awk -v ai="${ai[*]}" -v ac="${ac[*]}" -v pi="${pi[*]}" -v ps="${ps[*]}" -v fl="${fl[*]}" '
function med(x,  n,a,i,j,t){n=split(x,a," ");for(i=1;i<=n;i++)for(j=i+1;j<=n;j++)if(a[j]<a[i]){t=a[i];a[i]=a[j];a[j]=t};return a[int((n+1)/2)]}
BEGIN{printf "\nmedians: aide --init %.2f s, aide --check %.2f s, propsec init %.2f s, propsec scan %.2f s, floor %.2f s\n",med(ai),med(ac),med(pi),med(ps),med(fl);
printf "aide --check / propsec scan = %.1fx (goal >= 3x); propsec scan / floor = %.2fx (goal <= 1.3x)\n",med(ac)/med(ps),med(ps)/med(fl)}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "scaling: $SMALL small files"
mkdir -p "$work/small"
awk -v n="$SMALL" -v dir="$work/small" 'BEGIN{for(i=0;i<n;i++){d=sprintf("%s/d%03d",dir,int(i/1000)); if(i%1000==0) system("mkdir -p " d); f=sprintf("%s/f%06d.txt",d,i); printf "file %d\n", i > f; close(f)}}'
rm -f "$work"/fim.db*
"$work/fimbench" -mode init -root "$work/small" -db "$work/fim.db"
"$work/fimbench" -mode scan -root "$work/small" -db "$work/fim.db"
echo "(maxrss_mib is the whole process's peak resident set, from getrusage)"
