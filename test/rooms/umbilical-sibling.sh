#!/bin/sh
# Runs in the "umbilical-sibling" room: anchorctl status twice a second for 60 s, then how many were answered.
ok=0
failed=0
i=0
while [ $i -lt 120 ]; do
  if anchorctl status > /dev/null 2>&1; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
  i=$((i + 1))
  sleep 0.5
done
echo "sibling ok=$ok failed=$failed"
