#!/bin/sh
# Runs in the vault test's "vault-keeper" room: says what its vault folder holds, then sends a small
# file and 256 MiB, each answered by the test at the trusted prompt (asking again through the cool-down
# after a denial), then stays until it is stopped.
cd /tmp
echo "keeper-before=$(cd /vault && for f in * .*; do [ -f "$f" ] && printf '%s:%s ' "$f" "$(stat -c %s "$f")"; done)"
printf 'kept in the vault\n' > small.txt
head -c 268435456 /dev/zero > big.bin
for f in small.txt big.bin; do
  # After a denial bay0 refuses this room's next request for a while (the cool-down): ask again until it asks the person.
  while :; do
    reply=$(anchorctl send "$f" 2>&1)
    code=$?
    case "$reply" in *"ask again in"*) sleep 1 ;; *) break ;; esac
  done
  echo "$f exit=$code $reply"
done
echo "keeper-after=$(ls -A /vault | tr '\n' ' ')"
echo "vault-keeper-done"
exec sleep 100000
