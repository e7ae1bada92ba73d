#!/usr/bin/env bash
# Installs everything `make test` and `make run` need on a clean Debian 12 machine:
# missing apt packages, the .venv with the package and its test extras, model files.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

APT_PACKAGES=(
    python3-venv        # a clean Debian 12 lacks ensurepip for venv
    mmdebstrap          # the appliance boot test builds a Debian rootfs
    systemd-container   # ... and boots it with systemd-nspawn
    shellcheck          # scripts in image/ and systemd/ are linted
    espeak-ng           # voice prompts are rendered once into a cache
    libfuse3-3          # tests/faults: the power-cut file system (mfusepy loads it)
    fuse3               # ... and fusermount3 to mount and unmount it
    sqlite3             # .recover salvages a quarantined outbox file
    fdisk               # tests/appliance: the image harness reads a GPT (sfdisk) ...
    dosfstools          # ... makes and reads FAT boot partitions (mkfs.vfat, mtools)
    mtools
    nodejs              # the polkit rules are JavaScript: tests run them against allowed and refused requests
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "bootstrap: installing apt packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# Card stack: pcscd, the vpcd virtual reader, pcsc-tools/opensc, and pyscard's build deps.
bash scripts/setup-pcsc.sh
.venv/bin/python -m pip install -q -e '.[test,sim]'
# Face models from the pinned mediapipe 0.10.14 wheel, SHA-256 checked; idempotent.
bash scripts/fetch-models.sh
touch .venv/.bootstrapped
echo "bootstrap: ready"
