#!/test/busybox sh
# Forwards the host's lines on the "anchor.test" virtio-serial port to bay0's
# test control FIFO (test builds only), one line at a time. A line starting
# with "sh " is a command for this probe itself (benchmarks run this way).
. /test/prelude.sh
for port in /sys/class/virtio-ports/*; do
  if [ "$(cat "$port/name" 2>/dev/null)" = "anchor.test" ]; then dev="/dev/$(basename "$port")"; fi
done
[ -n "$dev" ] || { echo "no anchor.test port"; exit 1; }
while [ ! -p /run/anchor/test-control ]; do sleep 0.2; done
echo "forwarding $dev"
while read -r line; do
  case "$line" in
    "sh "*) sh -c "${line#sh }" ;;
    *) echo "$line" > /run/anchor/test-control ;;
  esac
done < "$dev"
