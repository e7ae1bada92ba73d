#!/bin/bash
# Build the wheelhouse the image installs from: ssc-kiosk and every dependency as aarch64 wheels
# for Debian 12 / Raspberry Pi OS bookworm (CPython 3.11, glibc 2.36).
#
#   image/make-wheelhouse.sh [--root ROOT] [--extras test,sim] OUT_DIR
#
# Binary wheels are downloaded for the aarch64 platform tags explicitly (`pip download
# --platform ... --only-binary=:all:`), so this runs on any machine with PyPI access: the tags
# are listed one by one because ai-edge-litert's aarch64 wheels are tagged
# manylinux_2_27_aarch64, which pip does not derive from manylinux2014_aarch64.
# pyscard has no Linux wheel: its sdist is compiled in the arm64 system (swig, gcc, python3-dev,
# libpcsclite-dev installed there), natively on an arm64 machine or, with --root, in an arm64
# root file system under qemu-user (binfmt_misc with the F flag; image/test-arm64.sh makes one).
#
# Dependencies are resolved under the same Debian pins the image's venv gets (numpy ==
# Debian's, from the arm64 system's dpkg): newer opencv-python-headless and ai-edge-litert
# releases need numpy 2, and an unpinned wheelhouse would make the offline install in the image
# fail. --extras adds the project's optional dependency groups (the arm64 unit-test run uses
# test,sim); the image's wheelhouse has none.
set -euo pipefail

root=""
extras=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --root) root=${2:?}; shift 2 ;;
        --extras) extras=${2:?}; shift 2 ;;
        -*) echo "usage: $0 [--root ROOT] [--extras LIST] OUT_DIR" >&2; exit 2 ;;
        *) break ;;
    esac
done
out=${1:?usage: $0 [--root ROOT] [--extras LIST] OUT_DIR}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z $root && $(uname -m) != aarch64 ]]; then
    echo "$0: this is $(uname -m): give --root with an arm64 root to compile pyscard in" >&2
    exit 2
fi

# Run a command in the arm64 system (this machine, or the root under qemu-user).
in_arm64() {
    if [[ -n $root ]]; then
        chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
    else
        "$@"
    fi
}

# The aarch64 tags CPython 3.11 on glibc 2.36 accepts, newest first.
platforms=(manylinux_2_36_aarch64 manylinux_2_35_aarch64 manylinux_2_34_aarch64 manylinux_2_31_aarch64
           manylinux_2_28_aarch64 manylinux_2_27_aarch64 manylinux_2_26_aarch64 manylinux_2_24_aarch64
           manylinux_2_17_aarch64 manylinux2014_aarch64 linux_aarch64)
platform_args=()
# The wheelhouse depends on PyPI and this tree only, not on the build machine's pip settings
# (extra indexes, local find-links, constraints).
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL PIP_CONSTRAINT PIP_NO_BINARY PIP_ONLY_BINARY
for p in "${platforms[@]}"; do platform_args+=(--platform "$p"); done

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
python3 -m venv "$build/venv"
pip=("$build/venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet --upgrade pip wheel
mkdir -p "$out"

echo "make-wheelhouse: the Debian pins of the arm64 system"
in_arm64 bash -s -- --print-constraints < "$src/scripts/appliance-venv.sh" > "$build/constraints.txt"
grep -q '^numpy==' "$build/constraints.txt" || { echo "$0: install python3-numpy in the arm64 system first" >&2; exit 2; }
cat "$build/constraints.txt"

echo "make-wheelhouse: ssc-kiosk (pure Python)"
rm -f "$out"/ssc_kiosk-*.whl
"${pip[@]}" wheel --quiet --no-deps -w "$out" "$src"

# pyscard from its sdist, compiled for aarch64, before the resolver needs it.
pyscard_req=$(grep -o '"pyscard[^"]*"' "$src/pyproject.toml" | tr -d '"')
if ! ls "$out"/pyscard-*-linux_aarch64.whl > /dev/null 2>&1; then
    echo "make-wheelhouse: pyscard: the sdist, compiled in the arm64 system"
    sdists=$build/sdists
    mkdir -p "$sdists"
    "${pip[@]}" download --quiet --no-deps --no-binary=pyscard -d "$sdists" "$pyscard_req"
    # its build backend, as wheels: the arm64 build runs offline
    "${pip[@]}" download --quiet --only-binary=:all: -d "$sdists" setuptools wheel
    if [[ -n $root ]]; then
        rm -rf "$root/tmp/kiosk-pyscard"
        mkdir -p "$root/tmp/kiosk-pyscard/out"
        cp "$sdists"/* "$root/tmp/kiosk-pyscard/"
        in_arm64 bash -ec 'cd /tmp/kiosk-pyscard && python3 -m venv venv &&
            venv/bin/python -m pip --disable-pip-version-check install --quiet --no-index --find-links . setuptools wheel &&
            venv/bin/python -m pip --disable-pip-version-check wheel --quiet --no-index --find-links . \
                --no-build-isolation --no-deps -w out pyscard-*.tar.gz'
        cp "$root"/tmp/kiosk-pyscard/out/pyscard-*.whl "$out/"
        rm -rf "$root/tmp/kiosk-pyscard"
    else
        python3 -m venv "$build/arm"
        "$build/arm/bin/python" -m pip install --quiet --no-index --find-links "$sdists" setuptools wheel
        "$build/arm/bin/python" -m pip wheel --quiet --no-index --find-links "$sdists" \
            --no-build-isolation --no-deps -w "$out" "$sdists"/pyscard-*.tar.gz
    fi
fi

echo "make-wheelhouse: the other dependencies as aarch64 wheels (${extras:-no extras})"
kiosk_wheel=$(ls "$out"/ssc_kiosk-*.whl)
req=$kiosk_wheel
[[ -z $extras ]] || req="ssc-kiosk[$extras] @ file://$kiosk_wheel"
"${pip[@]}" download --quiet --only-binary=:all: "${platform_args[@]}" \
    --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none \
    --find-links "$out" -c "$build/constraints.txt" -d "$out" "$req"
ls "$out"
