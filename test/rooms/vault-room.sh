#!/bin/sh
# Runs in the vault test's rooms, with and without a vault folder: what each finds in /vault and in
# its writable layer, then it leaves a file in each.
if [ -d /vault ]; then echo "vault=present contents=$(ls -A /vault | tr '\n' ' ')"; else echo "vault=absent"; fi
if [ -e /tmp/left-here ]; then echo "scratch=kept"; else echo "scratch=gone"; fi
echo "written by $(hostname)" > /tmp/left-here
if [ -d /vault ] && echo "kept by $(hostname)" > "/vault/note-$(hostname).txt"; then echo "vault-write=ok owner=$(stat -c %U /vault)"; fi
echo "vault-room-done"
