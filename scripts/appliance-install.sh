#!/bin/bash
# Install the appliance's systemd units, users, udev rule, lockdown settings and the documents the
# units name (from systemd/ and docs/) into a root file system, and enable the units. Used by the
# image layer (image/) and by the nspawn boot test (tests/appliance/). Runs on the build host;
# touches nothing outside ROOT.
#
#   scripts/appliance-install.sh ROOT
set -euo pipefail

usage() { echo "usage: $0 ROOT" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
root=$(realpath "$1")
[[ -d $root/etc && -d $root/usr ]] || { echo "$0: $root is not a root file system" >&2; exit 2; }
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../systemd" && pwd)

put() {  # put MODE SOURCE DEST (DEST relative to ROOT)
    install -D -m "$1" "$src/$2" "$root/$3"
}

put 0644 kiosk.service                      usr/lib/systemd/system/kiosk.service
put 0644 kiosk-sync.service                 usr/lib/systemd/system/kiosk-sync.service
put 0644 kiosk-stick@.service                usr/lib/systemd/system/kiosk-stick@.service
put 0644 kiosk-stick-task@.service           usr/lib/systemd/system/kiosk-stick-task@.service
put 0755 stick/kiosk-stick                   usr/lib/kiosk/kiosk-stick
put 0644 sysusers.d/kiosk.conf              usr/lib/sysusers.d/kiosk.conf
put 0644 tmpfiles.d/kiosk.conf              usr/lib/tmpfiles.d/kiosk.conf
put 0644 udev/70-kiosk-printer.rules        usr/lib/udev/rules.d/70-kiosk-printer.rules
put 0644 udev/71-kiosk-stick.rules          usr/lib/udev/rules.d/71-kiosk-stick.rules
put 0644 system.conf.d/50-kiosk-watchdog.conf etc/systemd/system.conf.d/50-kiosk-watchdog.conf
put 0644 logind.conf.d/50-kiosk.conf        etc/systemd/logind.conf.d/50-kiosk.conf
put 0644 journald.conf.d/50-kiosk.conf      etc/systemd/journald.conf.d/50-kiosk.conf
put 0644 sysctl.d/50-kiosk.conf             etc/sysctl.d/50-kiosk.conf
put 0644 polkit/50-kiosk-power.rules        etc/polkit-1/rules.d/50-kiosk-power.rules
put 0644 polkit/50-kiosk-stick.rules        etc/polkit-1/rules.d/50-kiosk-stick.rules
put 0644 chrony/kiosk.conf                  etc/chrony/conf.d/kiosk.conf
put 0644 fake-hwclock/fake-hwclock.default  etc/default/fake-hwclock

# Documentation the units name (Documentation=): the appliance notes and the architecture.
docs=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
install -D -m 0644 "$src/README.md"              "$root/usr/share/doc/ssc-kiosk/appliance.md"
install -D -m 0644 "$docs/docs/architecture.md"  "$root/usr/share/doc/ssc-kiosk/architecture.md"

# The TLS directory: the key is root-only (the sync unit gets it as a credential).
install -d -m 0755 "$root/etc/kiosk"
install -d -m 0755 "$root/etc/kiosk/tls"

# Users and the data directory now, so file ownership in the image is right before first boot.
systemd-sysusers --root="$root"
systemd-tmpfiles --root="$root" --create kiosk.conf

systemctl --root="$root" enable kiosk.service kiosk-sync.service
# No Ctrl+Alt+Del reboot, no login prompt where the UI draws.
systemctl --root="$root" mask ctrl-alt-del.target getty@tty1.service
# Nor on a serial console: the getty generator would start one on the console= device (the Pi
# build's serial0, QEMU's ttyAMA0) although root has no password; the way in is the menu.
systemctl --root="$root" mask serial-getty@.service
