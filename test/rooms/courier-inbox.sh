#!/bin/sh
# Runs in the "courier-inbox" room: reports every file that lands in /inbox (name, SHA-256, size) and anything else seen there.
echo "inbox ready"
while :; do
  for f in /inbox/* /inbox/.*; do
    name=${f##*/}
    [ -e "$f" ] && [ "$name" != "." ] && [ "$name" != ".." ] && [ ! -e "/tmp/seen-$name" ] || continue
    : > "/tmp/seen-$name"
    echo "inbox: $name $(sha256sum < "$f" | cut -d' ' -f1) $(wc -c < "$f") $(stat -c %U "$f")"
  done
  sleep 0.2
done
