# Sourced by every probe: busybox applets on PATH in a writable place.
/test/busybox mkdir -p /tmp/probe-bin
/test/busybox --install -s /tmp/probe-bin
export PATH=/tmp/probe-bin
