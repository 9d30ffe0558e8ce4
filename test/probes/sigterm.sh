#!/test/busybox sh
# Power-off probe: asks PID 1 to power off with SIGTERM.
. /test/prelude.sh
sleep 1
kill -TERM 1
