#!/bin/sh
# Runs in the "umbilical" room: every anchorctl command once, then a child without grants.
anchorctl status
echo "status-exit=$?"
# Every socket this room can find: its own umbilical, none of another room's (or bay0's).
# (test -S, not find -type s: find trusts readdir's type, which is the bind mount's target file, not the socket.)
echo "sockets=$(find / -path /proc -prune -o -path /sys -prune -o -print 2>/dev/null | while read -r f; do [ -S "$f" ] && printf '%s ' "$f"; done)"
anchorctl send /etc/passwd
echo "send-exit=$?"
cat > /tmp/kid.toml <<'POLICY'
name = "kid"
image = "probe"
command = ["/bin/sh", "-c", "if [ -e /run/anchor/umbilical ]; then echo kid-umbilical=present; else echo kid-umbilical=absent; fi"]
POLICY
anchorctl spawn /tmp/kid.toml
echo "spawn-exit=$?"
anchorctl spawn /etc/passwd
echo "bad-spawn-exit=$?"
sleep 2
echo "umbilical-done"
