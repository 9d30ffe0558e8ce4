#!/test/busybox sh
# The vault's tools, run from the system image on Anchor OS against a real TPM (swtpm): LUKS2 on the
# test disk's vault partition, a systemd-tpm2 token bound to PCR 7 with a PIN, opened with the PIN,
# refused with a wrong one (the TPM's dictionary-attack counter counts it), the right one refused too once
# the TPM locks out, opened again by passphrase.
. /test/prelude.sh
tools=/usr/lib/anchor/vault
i=0
while [ ! -x "$tools/bin/cryptsetup" ] && [ "$i" -lt 120 ]; do sleep 1; i=$((i + 1)); done
export LD_LIBRARY_PATH="$tools/lib" MKE2FS_CONFIG="$tools/etc/mke2fs.conf" SYSTEMD_CRYPTSETUP_USE_TOKEN_MODULE=0 DM_DISABLE_UDEV=1
mkdir -p /run/cryptsetup
dev=/dev/vda6
echo "tools=$("$tools/bin/cryptsetup" --version)"
"$tools/bin/systemd-cryptenroll" --tpm2-device=list 2>&1 | sed 's/^/tpm-list /'
# A small header: the test disk's vault partition is 16 MiB (bay0 grows the real one first).
printf 'initial-passphrase' | "$tools/bin/cryptsetup" luksFormat --type luks2 --batch-mode --key-file=- \
  --pbkdf argon2id --pbkdf-memory 65536 --iter-time 200 --luks2-metadata-size 16k --luks2-keyslots-size 2m --offset 8192 "$dev"
echo "format=$?"
PASSWORD=initial-passphrase NEWPIN=2468 "$tools/bin/systemd-cryptenroll" --tpm2-device=auto --tpm2-pcrs=7 --tpm2-with-pin=yes "$dev" 2>&1 | sed 's/^/enroll-says /'
"$tools/bin/cryptsetup" luksDump "$dev" | grep -q systemd-tpm2 && echo "token=systemd-tpm2"
PIN=2468 "$tools/bin/systemd-cryptsetup" attach probe "$dev" - tpm2-device=auto,headless 2>&1 | sed 's/^/attach-says /'
[ -b /dev/mapper/probe ] && echo "pin-open=yes"
"$tools/bin/mke2fs" -q -t ext4 /dev/mapper/probe && echo "mkfs=ok"
"$tools/bin/systemd-cryptsetup" detach probe
PIN=1357 "$tools/bin/systemd-cryptsetup" attach probe "$dev" - tpm2-device=auto,headless > /dev/null 2>&1
[ -b /dev/mapper/probe ] && echo "wrong-pin-open=yes" || echo "wrong-pin-open=no"
# Two more wrong PINs reach swtpm's lockout (3 failures): then the TPM refuses the right PIN too.
for pin in 1111 2222; do PIN=$pin "$tools/bin/systemd-cryptsetup" attach probe "$dev" - tpm2-device=auto,headless > /dev/null 2>&1; done
PIN=2468 "$tools/bin/systemd-cryptsetup" attach probe "$dev" - tpm2-device=auto,headless > /dev/null 2>&1
[ -b /dev/mapper/probe ] && echo "locked-out-right-pin-open=yes" || echo "locked-out-right-pin-open=no"
printf 'initial-passphrase' | "$tools/bin/cryptsetup" open --key-file=- "$dev" probe && echo "passphrase-open=yes"
echo "probe-done"
