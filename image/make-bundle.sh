#!/bin/bash
# Make a signed RAUC update bundle (verity format) from a kiosk root file system:
#
#   image/make-bundle.sh ROOTFS VERSION CERT KEY OUT.raucb
#
# ROOTFS is a built root (image/build-image-arm64.sh's rootfs/, or rpi-image-gen's on a Pi
# build). The bundle holds rootfs.ext4 (the system slot, sized to its contents), boot.vfat (the
# kernel, the initramfs and a cmdline.txt that image/rauc/bundle-hook.sh points at the slot the
# bundle is written to) and that hook. CERT/KEY sign it: the release CA's certificate chain on a
# release machine, the development CA in `make test-image`. Needs rauc, mksquashfs (squashfs-tools),
# mke2fs, mkfs.vfat and mcopy; runs as root (mke2fs -d keeps the root's owners).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# == 5 ]] || { sed -n 2,12p "${BASH_SOURCE[0]}" >&2; exit 2; }
rootfs=$1 version=$2 cert=$3 key=$4 out=$5
die() { echo "make-bundle: $*" >&2; exit 1; }
[[ -d $rootfs/opt/kiosk/venv ]] || die "$rootfs is not a kiosk root file system"
compatible=$(sed -n 's/^compatible=//p' "$src/image/rauc/system.conf")
boot_mib=128

work=$(mktemp -d "${TMPDIR:-/var/tmp}/kiosk-bundle.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/bundle"

# The system slot: its contents and a quarter more (the partition is larger; RAUC writes only
# the image), so the update writes and verifies as few blocks as it can.
used_mib=$(du -sm --apparent-size "$rootfs" | cut -f1)
mke2fs -q -t ext4 -L system -d "$rootfs" "$work/bundle/rootfs.ext4" "$((used_mib * 5 / 4 + 64))M"

kernel=$(find "$rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n1)
initrd=$(find "$rootfs/boot" -maxdepth 1 -name 'initrd.img-*' | sort | tail -n1)
[[ -n $kernel && -n $initrd ]] || die "no kernel or initramfs in $rootfs/boot"
printf 'root=PARTLABEL=system_a rootwait ro rauc.slot=A %s\n' "$(cat "$src/image/files/cmdline.append")" \
    > "$work/cmdline.txt"
mkfs.vfat -n BOOT -C "$work/bundle/boot.vfat" $((boot_mib * 1024)) > /dev/null
mcopy -i "$work/bundle/boot.vfat" "$kernel" ::/vmlinuz
mcopy -i "$work/bundle/boot.vfat" "$initrd" ::/initrd.img
mcopy -i "$work/bundle/boot.vfat" "$work/cmdline.txt" ::/cmdline.txt

install -m 0755 "$src/image/rauc/bundle-hook.sh" "$work/bundle/hook.sh"
cat > "$work/bundle/manifest.raucm" <<EOF
[update]
compatible=$compatible
version=$version
description=ssc-kiosk $version
build=$(date -u +%Y%m%dT%H%M%SZ)

[bundle]
format=verity

[hooks]
filename=hook.sh

[image.boot]
filename=boot.vfat
hooks=post-install

[image.rootfs]
filename=rootfs.ext4
EOF
rm -f "$out"
# lz4: the kiosk decompresses the bundle while it installs; lz4 costs it the least CPU.
rauc bundle --cert="$cert" --key="$key" --mksquashfs-args="-comp lz4" "$work/bundle" "$out" > /dev/null
echo "make-bundle: $out, $(( $(stat -c %s "$out") / 1048576 )) MiB"
