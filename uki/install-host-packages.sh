#!/bin/sh
# Installs the Debian packages that building, booting and testing Anchor OS
# need on the host, and only those that are missing. Run as root.
set -eu
PACKAGES="qemu-system-x86 ovmf swtpm swtpm-tools busybox-static zstd cpio gcc gcc-12-plugin-dev libc6-dev make flex bison bc libelf-dev libssl-dev xz-utils binutils linux-source-6.1 systemd-boot-efi sbsigntool efitools openssl dosfstools mtools kmod crun golang-github-containers-common squashfs-tools debootstrap cryptsetup-bin bubblewrap linux-image-amd64 fonts-spleen fdisk qemu-utils systemd util-linux libtss2-esys-3.0.2-0 libtss2-mu0 libtss2-rc0 libtss2-sys1 libtss2-tcti-device0 e2fsprogs"
# On a desktop, `npm run boot` shows the machine in a QEMU window: GTK and SDL are in qemu-system-gui.
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  PACKAGES="$PACKAGES qemu-system-gui"
fi
missing=""
for pkg in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $pkg"
  fi
done
if [ -z "$missing" ]; then
  echo "[host] packages present"
  exit 0
fi
echo "[host] installing:$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
