#!/test/busybox sh
# Watchdog probe: wedges bay0's event loop through the test hook.
. /test/prelude.sh
sleep 1
kill -USR2 1
