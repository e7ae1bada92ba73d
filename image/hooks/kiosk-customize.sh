#!/bin/bash
# rpi-image-gen customize hook of the ssc-kiosk layer: everything that makes the rootfs a kiosk.
# Runs on the build host with the target rootfs as $1 (mmdebstrap hook convention); commands
# inside the target go through chroot (an arm64 build host, or binfmt + qemu-user-static).
#
# Inputs (layer variables, see image/layer/kiosk.yaml):
#   IGconf_kiosk_srcdir      the source tree      IGconf_kiosk_wheelhouse  aarch64 wheels
#   IGconf_kiosk_models      the two .tflite files IGconf_kiosk_rauc_keyring bundle CA
set -euo pipefail

root=${1:?usage: $0 ROOTFS}
src=${IGconf_kiosk_srcdir:?}
wheelhouse=${IGconf_kiosk_wheelhouse:?}
models=${IGconf_kiosk_models:?}
keyring=${IGconf_kiosk_rauc_keyring:?}
venv=/opt/kiosk/venv

# Units, users, udev rule, lockdown settings; units enabled, ctrl-alt-del masked.
bash "$src/scripts/appliance-install.sh" "$root"

# The venv (system site packages; numpy pinned to Debian's) from local wheels only.
install -d "$root/tmp/kiosk-build/wheels"
cp "$wheelhouse"/*.whl "$root/tmp/kiosk-build/wheels/"
install -m 0755 "$src/scripts/appliance-venv.sh" "$root/tmp/kiosk-build/"
chroot "$root" /tmp/kiosk-build/appliance-venv.sh "$venv" /tmp/kiosk-build/wheels ssc-kiosk
rm -rf "$root/tmp/kiosk-build"
# Byte-compile now: the root file system is read-only at run time.
chroot "$root" "$venv/bin/python" -m compileall -q "$venv/lib" >/dev/null

# Face models, checked against the hashes the liveness code was validated with.
(cd "$models" && sha256sum --check --strict --quiet "$src/image/models.sha256")
install -d -m 0755 "$root/opt/kiosk/models"
install -m 0644 "$models"/face_detection_short_range.tflite "$models"/face_landmark.tflite \
    "$root/opt/kiosk/models/"

# The shipped configuration: every default, commented; sites change it through the bureau or
# the technician menu (both stored on the data partition), never by remounting /.
chroot "$root" "$venv/bin/kiosk" config --defaults > "$root/etc/kiosk/kiosk.toml"
chroot "$root" "$venv/bin/kiosk" check-config /etc/kiosk/kiosk.toml

# Read-only root over tmpfs; the data partition and its bind mounts.
install -m 0644 "$src/image/files/overlayroot.conf" "$root/etc/overlayroot.conf"
cat "$src/image/files/fstab.kiosk" >> "$root/etc/fstab"
install -d -m 0755 "$root/data"
install -m 0644 "$src/image/files/kiosk-data-layout.service" \
    "$root/usr/lib/systemd/system/kiosk-data-layout.service"
# The data partition is LUKS2, encrypted on the kiosk's first boot with a key bound to the device
# (the fstab line of /data requires this unit; files/kiosk-data-crypt says how).
install -D -m 0755 "$src/image/files/kiosk-data-crypt" "$root/usr/lib/kiosk/kiosk-data-crypt"
install -m 0644 "$src/image/files/kiosk-data-crypt.service" \
    "$root/usr/lib/systemd/system/kiosk-data-crypt.service"
install -D -m 0644 "$src/image/files/data-key.conf" "$root/etc/kiosk/data-key.conf"
# Per-kiosk TLS files live on the data partition (the image is the same for every kiosk and its
# root is read-only); the sync unit still reads /etc/kiosk/tls/kiosk.key as its credential.
rmdir "$root/etc/kiosk/tls"
ln -s /data/tls "$root/etc/kiosk/tls"
install -m 0644 "$src/image/files/modprobe-kiosk.conf" "$root/etc/modprobe.d/kiosk.conf"

# Kernel command line: no console blanking, no cursor, quiet boot, overlay root.
cmdline=$root/boot/firmware/cmdline.txt
if [[ -f $cmdline ]]; then
    line=$(tr -d '\n' < "$cmdline")
    printf '%s %s\n' "$line" "$(cat "$src/image/files/cmdline.append")" > "$cmdline"
fi

# Services of the appliance.
systemctl --root="$root" enable pcscd.socket chrony.service fake-hwclock.service
systemctl --root="$root" disable getty@tty1.service serial-getty@ttyAMA0.service 2>/dev/null || true

# RAUC: the slots, the bundle CA, the Pi tryboot backend, and "good" only once the kiosk runs.
install -D -m 0644 "$src/image/rauc/system.conf" "$root/etc/rauc/system.conf"
install -D -m 0644 "$keyring" "$root/etc/rauc/keyring.pem"
install -D -m 0755 "$src/image/rauc/tryboot-backend.sh" "$root/usr/lib/rauc/kiosk-tryboot-backend"
# Debian 12's rauc packages have no rauc-mark-good.service (rauc-service ships rauc.service only).
if [[ ! -e $root/lib/systemd/system/rauc-mark-good.service && ! -e $root/usr/lib/systemd/system/rauc-mark-good.service ]]; then
    install -D -m 0644 "$src/image/files/rauc-mark-good.service" "$root/usr/lib/systemd/system/rauc-mark-good.service"
fi
install -D -m 0644 "$src/image/files/rauc-mark-good.conf" \
    "$root/etc/systemd/system/rauc-mark-good.service.d/kiosk.conf"
systemctl --root="$root" enable rauc-mark-good.service
