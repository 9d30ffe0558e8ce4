#!/test/busybox sh
# Foundation probe: reports what PID 1 looks like, checks pivot_root works, makes 100 orphans for bay0
# to reap, throws inside one of bay0's event handlers, and exits with 42 so
# the test can check bay0 still learns its spawned children's real status.
. /test/prelude.sh
echo "pid1-exe=$(readlink /proc/1/exe)"
echo "pid1-comm=$(cat /proc/1/comm)"
echo "hostname=$(hostname)"
while read -r line; do echo "mountinfo $line"; done < /proc/1/mountinfo
echo "lockdown=$(cat /sys/kernel/security/lockdown)"
for s in fs/protected_hardlinks fs/protected_symlinks fs/protected_fifos fs/protected_regular kernel/kptr_restrict vm/mmap_min_addr; do
  echo "sysctl $s=$(cat /proc/sys/$s)"
done
if [ -e /proc/modules ]; then echo "module-support=present"; else echo "module-support=absent"; fi
if touch /probe-write 2>/dev/null; then echo "root-write=allowed"; else echo "root-write=refused"; fi
# Rooms need pivot_root, which the kernel refuses on the initramfs itself.
if unshare -m sh -c 'mkdir -p /tmp/nr && mount -t tmpfs nr /tmp/nr && mkdir /tmp/nr/old && cd /tmp/nr && pivot_root . old && [ -d /old/proc ]'; then
  echo "pivot-root=ok"
else
  echo "pivot-root=failed"
fi
i=0
while [ "$i" -lt 100 ]; do
  (sleep 1 &)
  i=$((i + 1))
done
echo "orphans-started=$i"
# Until bay0 has reaped them all (each lives a second), at most a minute: a busy boot may take its time, never forever.
zombies() { cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == "Z" && $4 == 1' | wc -l; }
left() { cat /proc/[0-9]*/stat 2>/dev/null | awk '$2 == "(sleep)" && $4 == 1' | wc -l; }
i=0
while [ "$i" -lt 60 ] && [ "$(zombies)" != 0 -o "$(left)" != 0 ]; do
  sleep 1
  i=$((i + 1))
done
echo "orphan-zombies=$(zombies)"
echo "orphans-left=$(left)"
kill -USR1 1
sleep 1
# The audit log, once both autostart rooms are in it.
i=0
while [ "$i" -lt 60 ] && [ "$(grep -c '"event":"room.started"' /run/anchor/audit.jsonl 2>/dev/null)" != 2 ]; do
  sleep 1
  i=$((i + 1))
done
# PCR 15 holds the chain's head; read it with the log once neither has changed for 2 s (a record is written, then
# extended behind the TPM's queue: one that lands between the two reads would be in the file and not in the PCR).
pcr=""
log=""
while [ "$pcr" != "$(cat /sys/class/tpm/tpm0/pcr-sha256/15)" ] || [ "$log" != "$(cat /run/anchor/audit.jsonl)" ]; do
  pcr=$(cat /sys/class/tpm/tpm0/pcr-sha256/15)
  log=$(cat /run/anchor/audit.jsonl)
  sleep 2
done
echo "audit-pcr=$pcr"
echo "$log" | while read -r line; do echo "audit $line"; done
echo "probe-done"
exit 42
