#!/test/busybox sh
# Power-off probe: says whether anything sits at /dev/watchdog (the machine has
# none), then asks PID 1 to power off with SIGTERM.
. /test/prelude.sh
if [ -e /dev/watchdog ]; then echo "watchdog-node=$(stat -c %F /dev/watchdog)"; else echo "watchdog-node=none"; fi
sleep 1
kill -TERM 1
