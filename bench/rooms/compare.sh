#!/test/busybox sh
# In-guest baselines for room spawn latency, each `true` run RUNS times:
# bare crun on the bundle bay0 generated, bwrap, and a plain fork+exec.
# Prints "bench NAME-ms=MS" lines, then "bench-done".
. /test/prelude.sh
bundle=$1
runs=${2:-5}
image=/run/rooms/.images/minimal
elapsed() {
  start=$EPOCHREALTIME
  "$@" >/dev/null 2>&1
  end=$EPOCHREALTIME
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", (e - s) * 1000 }'
}
i=0
while [ "$i" -lt "$runs" ]; do
  i=$((i + 1))
  echo "bench crun-ms=$(elapsed /usr/bin/crun --root /run/crun-bench run --bundle "$bundle" "bench-$i")"
  echo "bench bwrap-ms=$(elapsed /usr/bin/bwrap --unshare-all --ro-bind "$image" / --proc /proc --dev /dev /bin/true)"
  echo "bench plain-ms=$(elapsed "$image/bin/true")"
done
echo "bench-done"
