#!/bin/sh
# Runs in the vault test's "vault-keeper" room: says what its vault folder holds, then sends a small
# file and 256 MiB, each answered by the test at the trusted prompt, then stays until it is stopped.
cd /tmp
echo "keeper-before=$(cd /vault && for f in * .*; do [ -f "$f" ] && printf '%s:%s ' "$f" "$(stat -c %s "$f")"; done)"
printf 'kept in the vault\n' > small.txt
head -c 268435456 /dev/zero > big.bin
for f in small.txt big.bin; do
  reply=$(anchorctl send "$f" 2>&1)
  echo "$f exit=$? $reply"
done
echo "keeper-after=$(ls -A /vault | tr '\n' ' ')"
echo "vault-keeper-done"
exec sleep 100000
