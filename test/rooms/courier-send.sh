#!/bin/sh
# Runs in the "courier-send" room: hostile paths first (each refused before any prompt),
# then files the test answers at the trusted prompt, one at a time, in this order;
# after a denial it asks again until the cool-down has passed; the last answer stops it.
cd /tmp
printf 'quarterly figures: 42\n' > report.txt
ln -s /etc/shadow shadow-link
ln -s /etc etc-link
mkfifo pipe
mkdir folder
: > empty.txt
head -c 2000000 /dev/zero > big.bin
printf 'version one\n' > changing.txt
printf 'line 1\n' > growing.log
send() {
  label=$1
  shift
  reply=$(anchorctl send "$@" 2>&1)
  echo "$label exit=$? $reply"
}
send symlink shadow-link
send dotdot ../../../../../../etc/anchor/images.json
send through-link etc-link/passwd
send proc /proc/self/root/etc/passwd
send fifo pipe
send folder folder
send too-big big.bin
send missing nothing-here.txt
echo "prompts next"
send report report.txt
send empty empty.txt
# These two change while their prompts are up: when the test, seeing the prompt, leaves a mark in /tmp.
(until [ -e go-change ]; do sleep 0.2; done; printf 'version TWO\n' > changing.txt; echo "changed now") &
send changing changing.txt
(until [ -e go-grow ]; do sleep 0.2; done; echo 'line 2' >> growing.log; echo "grown now") &
send growing growing.log
send again report.txt
# Asks again while bay0 says the person denied it a moment ago (the cool-down), then prints the answer.
patiently() {
  label=$1
  shift
  while :; do
    reply=$(anchorctl send "$@" 2>&1)
    code=$?
    case "$reply" in
      *"ask again in"*) sleep 1 ;;
      *) echo "$label exit=$code $reply"; return ;;
    esac
  done
}
send esc report.txt
send cooling report.txt
patiently timeout report.txt
patiently attention report.txt
patiently frozen report.txt
send after report.txt
echo "courier-send-done"
patiently stop report.txt
