#!/test/busybox sh
# Shutdown probe: leaves one process that ignores SIGTERM, so an orderly
# shutdown has to escalate to SIGKILL, and one that exits on SIGTERM.
. /test/prelude.sh
sh -c 'trap "" TERM; while true; do sleep 1; done' &
sleep 1000 &
echo "linger-ready"
wait
