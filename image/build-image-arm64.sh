#!/bin/bash
# Build the kiosk image's arm64 root file system and a partitioned disk image from Debian 12
# arm64 packages, on a machine without the Raspberry Pi archive: the same layer
# (image/layer/kiosk.yaml's packages, image/hooks/kiosk-customize.sh as the mmdebstrap customize
# hook, so scripts/appliance-install.sh and scripts/appliance-venv.sh), the venv from the aarch64
# wheelhouse that `make test-arm64` builds. No loop devices or device-mapper: the file systems
# are made from directories (mke2fs -d, mkfs.vfat + mcopy) and written into the image at their
# partition offsets. What differs from a Pi build, and why: image/README.md ("Built here").
#
#   image/build-image-arm64.sh            (needs root; run `make test-arm64` first for the caches)
#
# Output in $KIOSK_ARM64_CACHE/image (default /var/tmp/kiosk-arm64/image): rootfs/ (the A slot's
# tree), kiosk-arm64.img (sparse), layout.txt (sfdisk's dump and the checks made on the image).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${KIOSK_ARM64_CACHE:-/var/tmp/kiosk-arm64}
wheels=$cache/wheelhouse-test   # a superset of the image's wheels, under the same Debian pins
models=$cache/models
out=$cache/image
mirror=${KIOSK_ARM64_MIRROR:-http://deb.debian.org/debian}

# The layer's packages (image/layer/kiosk.yaml) less python3-picamera2, which only the Raspberry
# Pi archive has, plus what the Pi's base layers bring: init, udev, a kernel and an initramfs
# (Debian's generic arm64 kernel here; the Pi kernel and firmware there).
layer_packages() {
    python3 - "$src/image/layer/kiosk.yaml" <<'EOF'
import os, sys, yaml
PI_ONLY = set(os.environ["PI_ONLY_PACKAGES"].split())
doc = yaml.safe_load(open(sys.argv[1]).read().split("# METAEND", 1)[1])
print("\n".join(p for p in doc["mmdebstrap"]["packages"] if p not in PI_ONLY))
EOF
}
# Packages only the Raspberry Pi archive has (the camera stack; rpi-eeprom's OTP tool).
export PI_ONLY_PACKAGES="python3-picamera2 rpi-eeprom"
# busybox: the initramfs's grep, sed and friends (overlayroot's script needs them; minbase leaves
# out initramfs-tools' recommends, and without it the read-only root is never set up).
base_packages=(systemd-sysv udev dbus linux-image-arm64 initramfs-tools busybox kmod python3 ca-certificates)

# Partitions (GPT; labels as image/rauc/system.conf names them; the numbers as
# image/rauc/tryboot-backend.sh counts them: boot_partition=2 is A, 3 is B).
boot_mib=128 system_mib=3072 data_mib=4096 config_mib=16

t0=$SECONDS
step() { echo "[build-image-arm64 +$((SECONDS - t0))s] $*"; }
die() { echo "build-image-arm64: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root"
renice -n 19 -p $$ > /dev/null
ionice -c3 -p $$ 2> /dev/null || true
grep -qs '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
    die "qemu-aarch64 is not registered with the F flag: run image/test-arm64.sh first"
[[ -f $wheels/.kiosk-stamp ]] || die "no aarch64 wheelhouse in $wheels: run image/test-arm64.sh first"
ls "$models"/*.tflite > /dev/null 2>&1 || die "no models in $models: run image/test-arm64.sh first"
for tool in sfdisk:fdisk mkfs.vfat:dosfstools mcopy:mtools mke2fs:e2fsprogs debugfs:e2fsprogs; do
    command -v "${tool%%:*}" > /dev/null ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tool#*:}" > /dev/null
done
mkdir -p "$out"

step "1/4 a development RAUC keyring (a real image uses the release CA)"
if [[ ! -f $out/dev-rauc-ca.pem ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "/CN=ssc-kiosk development bundle CA (not for the field)" \
        -addext "extendedKeyUsage=codeSigning" \
        -keyout "$out/dev-rauc-ca.key" -out "$out/dev-rauc-ca.pem" 2> /dev/null
fi

step "2/4 the root file system: mmdebstrap with the layer's packages, then its customize hook"
# Two caches: the packages (slow under qemu-user, tens of minutes) change rarely; the kiosk's
# own files (the customize hook's inputs) change often and take a few minutes to apply to a
# copy of the packaged root. The hook is the same either way; mmdebstrap would run it as its
# customize hook with /proc and /dev mounted, and so does this step.
mapfile -t packages < <(layer_packages)
packages+=("${base_packages[@]}")
base_stamp=$(printf '%s\n' "$mirror" "${packages[@]}" | sha256sum | cut -c1-16)
# Packages added to a cached root are installed into it (tens of minutes saved under emulation);
# anything else (one removed, another mirror) makes it again from nothing.
extra=()
if [[ -d $out/base && -f $out/base.packages && $(cat "$out/base.stamp" 2> /dev/null) != "$base_stamp" ]]; then
    mapfile -t extra < <(printf '%s\n' "${packages[@]}" | grep -vxF -f "$out/base.packages" || true)
    if [[ $(cat "$out/base.mirror" 2> /dev/null) != "$mirror" ]] ||
        grep -qvxF -f <(printf '%s\n' "${packages[@]}") "$out/base.packages"; then
        extra=()
    fi
fi
if [[ ${#extra[@]} -gt 0 ]]; then
    echo "  packages: adding ${extra[*]} to the cached root"
    mount -t proc proc "$out/base/proc"
    mount --rbind /dev "$out/base/dev"
    trap 'umount -R "$out/base/dev" "$out/base/proc" 2> /dev/null || true' EXIT
    # shellcheck disable=SC2016  # expanded by the shell in the root
    chroot "$out/base" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" > /dev/null &&
               apt-get clean && rm -f /var/lib/apt/lists/*_Packages' add "${extra[@]}"
    umount -R "$out/base/dev" "$out/base/proc"
    trap - EXIT
    printf '%s\n' "${packages[@]}" > "$out/base.packages"
    echo "$base_stamp" > "$out/base.stamp"
elif [[ $(cat "$out/base.stamp" 2> /dev/null) != "$base_stamp" ]]; then
    rm -rf "$out/base" "$out/base.tmp"
    # shellcheck disable=SC2016  # the hooks' $1 is the root, expanded by mmdebstrap's shell
    mmdebstrap --quiet --arch=arm64 --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
        --customize-hook='echo ssc-kiosk > "$1/etc/hostname"' \
        --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*_Packages' \
        bookworm "$out/base.tmp" "$mirror"
    mv "$out/base.tmp" "$out/base"
    printf '%s\n' "${packages[@]}" > "$out/base.packages"
    echo "$mirror" > "$out/base.mirror"
    echo "$base_stamp" > "$out/base.stamp"
else
    echo "  packages: cached"
fi
# The image's wheels: the dependencies from the aarch64 wheelhouse, the kiosk's own wheel built
# now from this tree (the wheelhouse's may be older than the code).
image_wheels=$out/wheels
rm -rf "$image_wheels"
mkdir -p "$image_wheels"
cp -l "$wheels"/*.whl "$image_wheels/" 2> /dev/null || cp "$wheels"/*.whl "$image_wheels/"
rm -f "$image_wheels"/ssc_kiosk-*.whl
PIP_CONFIG_FILE=/dev/null "$src/.venv/bin/python" -m pip --disable-pip-version-check wheel --quiet \
    --no-deps -w "$image_wheels" "$src"
# The hook's inputs by content (the working tree, as the developer sees it).
stamp=$( (echo "$base_stamp"; cat "$wheels/.kiosk-stamp";
          cd "$src" && find image/hooks image/files image/rauc systemd scripts/appliance-install.sh \
              scripts/appliance-venv.sh kiosk simulators pyproject.toml -type f ! -name '*.pyc' -print0 |
              sort -z | xargs -0 sha256sum) |
        sha256sum | cut -c1-16)
if [[ $(cat "$out/rootfs.stamp" 2> /dev/null) != "$stamp" ]]; then
    rm -rf "$out/rootfs" "$out/rootfs.tmp"
    cp -a "$out/base" "$out/rootfs.tmp"
    mount -t proc proc "$out/rootfs.tmp/proc"
    mount --rbind /dev "$out/rootfs.tmp/dev"
    trap 'umount -R "$out/rootfs.tmp/dev" "$out/rootfs.tmp/proc" 2> /dev/null || true' EXIT
    IGconf_kiosk_srcdir=$src IGconf_kiosk_wheelhouse=$image_wheels IGconf_kiosk_models=$models \
    IGconf_kiosk_rauc_keyring=$out/dev-rauc-ca.pem \
        bash "$src/image/hooks/kiosk-customize.sh" "$out/rootfs.tmp"
    umount -R "$out/rootfs.tmp/dev" "$out/rootfs.tmp/proc"
    trap - EXIT
    mv "$out/rootfs.tmp" "$out/rootfs"
    echo "$stamp" > "$out/rootfs.stamp"
else
    echo "  kiosk files: cached"
fi
du -sh "$out/rootfs/" | sed 's/^/  /'

step "3/4 the partition images (no loop devices: made from directories)"
# mmdebstrap writes no /etc/hosts (a Pi build gets one from rpi-image-gen's base layer); without
# it "localhost" does not resolve on the kiosk.
[[ -s $out/rootfs/etc/hosts ]] ||
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tssc-kiosk\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
        > "$out/rootfs/etc/hosts"
# The firmware's partition, where the tryboot backend (image/rauc/tryboot-backend.sh) keeps
# autoboot.txt: on a Pi build rpi-image-gen's layout mounts it; here this layout does.
mkdir -p "$out/rootfs/boot/bootloader"
grep -q ' /boot/bootloader ' "$out/rootfs/etc/fstab" ||
    echo 'PARTLABEL=config  /boot/bootloader  vfat  defaults,noatime,umask=0077,x-systemd.device-timeout=60s  0  0' \
        >> "$out/rootfs/etc/fstab"
# The root's own line (rpi-image-gen's base layer writes one on a Pi build; mmdebstrap writes
# none). overlayroot turns it into the overlay's line, and systemd-remount-fs then remounts the
# overlay read-write (the RAM layer) after the kernel's `ro`; without it the overlay stays
# read-only and every unit with a StateDirectory or LogsDirectory (logind, chrony) fails.
# /dev/root: the same line for either slot (the slot's device comes from cmdline.txt).
grep -qE '^[^#[:space:]]+[[:space:]]+/[[:space:]]' "$out/rootfs/etc/fstab" ||
    sed -i '1a /dev/root  /  ext4  defaults,noatime  0  0' "$out/rootfs/etc/fstab"
parts=$out/parts
rm -rf "$parts"
mkdir -p "$parts/config" "$parts/boot"
kernel=$(find "$out/rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n1)
initrd=$(find "$out/rootfs/boot" -maxdepth 1 -name 'initrd.img-*' | sort | tail -n1)
[[ -n $kernel && -n $initrd ]] || die "no kernel or initramfs in the root"
# The firmware's partition: autoboot.txt, committed and trial slot both A.
printf '[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=2\n' > "$parts/config/autoboot.txt"
mkfs.vfat -n CONFIG -C "$parts/config.vfat" $((config_mib * 1024)) > /dev/null
mcopy -i "$parts/config.vfat" "$parts/config/autoboot.txt" ::/
for slot in A B; do
    # Each boot slot starts its own system slot; the Pi's firmware files and config.txt go here
    # on a Pi build (rpi-image-gen's pi5 layer), Debian's generic kernel here.
    lower=${slot,,}
    printf 'root=PARTLABEL=system_%s rootwait ro rauc.slot=%s %s\n' "$lower" "$slot" \
        "$(cat "$src/image/files/cmdline.append")" > "$parts/boot/cmdline-$slot.txt"
    mkfs.vfat -n "BOOT_$slot" -C "$parts/boot_$lower.vfat" $((boot_mib * 1024)) > /dev/null
    mcopy -i "$parts/boot_$lower.vfat" "$kernel" ::/vmlinuz
    mcopy -i "$parts/boot_$lower.vfat" "$initrd" ::/initrd.img
    mcopy -i "$parts/boot_$lower.vfat" "$parts/boot/cmdline-$slot.txt" ::/cmdline.txt
done
mke2fs -q -t ext4 -L system_a -d "$out/rootfs" "$parts/system_a.ext4" "${system_mib}M"
mke2fs -q -t ext4 -L system_b "$parts/system_b.ext4" "${system_mib}M"   # empty until the first update
# The data partition is left blank (zeros, no file system): the kiosk encrypts it (LUKS2, a key
# bound to the device) and makes its file system on its first boot (kiosk-data-crypt.service).

step "4/4 the disk image: GPT (sfdisk), the partitions written at their offsets"
img=$out/kiosk-arm64.img
rm -f "$img"
total_mib=$((1 + config_mib + 2 * boot_mib + 2 * system_mib + data_mib + 1))
truncate -s "${total_mib}M" "$img"
sfdisk --quiet "$img" <<EOF
label: gpt
size=${config_mib}MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=config
size=${boot_mib}MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=boot_a
size=${boot_mib}MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=boot_b
size=${system_mib}MiB, type=B921B045-1DF0-41C3-AF44-4C6F280D3FAE, name=system_a
size=${system_mib}MiB, type=B921B045-1DF0-41C3-AF44-4C6F280D3FAE, name=system_b
size=${data_mib}MiB, type=0FC63DAF-8483-4772-8E3D-47845D3957E4, name=data
EOF
n=0
for part in config.vfat boot_a.vfat boot_b.vfat system_a.ext4 system_b.ext4; do   # data: zeros
    n=$((n + 1))
    start=$(sfdisk --json "$img" | python3 -c "import json,sys; print(json.load(sys.stdin)['partitiontable']['partitions'][$n-1]['start'])")
    dd if="$parts/$part" of="$img" bs=512 seek="$start" conv=notrunc,sparse status=none
done

# Checks on the image itself (read with debugfs and mtools at the offsets, no mounting).
offset_of() { sfdisk --json "$img" | python3 -c "import json,sys; print(json.load(sys.stdin)['partitiontable']['partitions'][$1-1]['start'] * 512)"; }
{
    sfdisk --dump "$img"
    echo "--- boot_a (partition 2)"
    mdir -i "$img@@$(offset_of 2)" -b ::/
    mtype -i "$img@@$(offset_of 2)" ::/cmdline.txt
    echo "--- config (partition 1): autoboot.txt"
    mtype -i "$img@@$(offset_of 1)" ::/autoboot.txt
    echo "--- system_a (partition 4)"
    dd if="$img" bs=1M skip=$(( $(offset_of 4) / 1048576 )) count="$system_mib" status=none > "$parts/check.ext4"
    for f in /usr/lib/systemd/system/kiosk.service /usr/lib/systemd/system/kiosk-sync.service \
             /etc/systemd/system/multi-user.target.wants/kiosk.service /usr/lib/sysusers.d/kiosk.conf \
             /usr/lib/tmpfiles.d/kiosk.conf /usr/lib/udev/rules.d/70-kiosk-printer.rules \
             /etc/rauc/system.conf /usr/lib/rauc/kiosk-tryboot-backend /opt/kiosk/venv/bin/kiosk \
             /opt/kiosk/models/face_landmark.tflite /etc/kiosk/kiosk.toml /etc/overlayroot.conf \
             /usr/lib/kiosk/kiosk-data-crypt /usr/lib/systemd/system/kiosk-data-crypt.service; do
        debugfs -R "stat $f" "$parts/check.ext4" 2> /dev/null | grep -q '^Inode:' ||
            { echo "MISSING $f"; exit 1; }
        echo "present $f"
    done
    debugfs -R "cat /opt/kiosk/venv/versions.txt" "$parts/check.ext4" 2> /dev/null |
        grep -iE '^(ai-edge-litert|numpy|opencv-python-headless|pygame-ce|pyscard|ssc-kiosk)=='
    debugfs -R "cat /etc/fstab" "$parts/check.ext4" 2> /dev/null | grep '^/dev/mapper/kioskdata '
    rm -f "$parts/check.ext4"
    echo "--- data (partition 6): blank until the kiosk's first boot encrypts it"
    cmp -n 1048576 /dev/zero <(dd if="$img" bs=1M skip=$(( $(offset_of 6) / 1048576 )) count=1 status=none)
    echo "first MiB all zeros"
} > "$out/layout.txt"
rm -f "$parts"/*.ext4 "$parts"/*.vfat
cat "$out/layout.txt"
ls -ls "$img"
step "done: $img"
