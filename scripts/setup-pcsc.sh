#!/usr/bin/env bash
# Installs what the card stack needs (pcscd, the vpcd virtual reader, pyscard's build deps);
# idempotent: only missing apt packages are installed. Called from scripts/bootstrap.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    pcscd               # the PC/SC daemon pyscard talks to
    vsmartcard-vpcd     # virtual reader driver: the card emulator connects to it over TCP
    pcsc-tools          # pcsc_scan -n, an independent client for checks
    opensc              # opensc-tool, a second independent client (SELECT by name, READ RECORD)
    libpcsclite-dev     # pyscard is sdist-only on Linux and compiles against it
    swig                # pyscard's build generates its wrapper with swig
    gcc
    python3-dev
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup-pcsc: installing apt packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian enables pcscd.socket under systemd; tests and `make run` start their own pcscd in the
# foreground, and only one may run per machine, so say so when another one is already there.
if pgrep -x pcscd >/dev/null 2>&1; then
    echo "setup-pcsc: note: a pcscd is already running (pid $(pgrep -x pcscd | tr '\n' ' '))"
fi
echo "setup-pcsc: ready"
