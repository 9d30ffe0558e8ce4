#!/bin/sh
# Runs in the "umbilical" room: every anchorctl command once, then a child without grants.
anchorctl status
echo "status-exit=$?"
# Every socket this room can find: its own umbilical, none of another room's (or bay0's).
echo "sockets=$(find / -type s 2>/dev/null | grep -v '^/proc/' | tr '\n' ' ')"
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
