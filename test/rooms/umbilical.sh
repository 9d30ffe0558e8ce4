#!/bin/sh
# Runs in the "umbilical" room: every anchorctl command once, then a child without grants.
anchorctl status
echo "status-exit=$?"
# Its own umbilical is a socket; bay0's directory of every room's sockets does not exist in here.
if [ -S /run/anchor/umbilical ]; then echo "own-socket=yes"; else echo "own-socket=no"; fi
echo "other-sockets=$(ls /run/rooms 2>&1)"
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
