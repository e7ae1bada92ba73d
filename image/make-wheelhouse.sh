#!/bin/bash
# Build the wheelhouse the image installs from: ssc-kiosk and every dependency as aarch64 wheels.
# Run on arm64 Raspberry Pi OS bookworm (or an arm64 Debian 12 runner) with python3-venv,
# python3-numpy, libpcsclite-dev, swig, gcc and python3-dev installed (pyscard compiles).
# Dependencies are resolved under the same Debian pins the image's venv gets (numpy ==
# Debian's): newer opencv-python-headless and ai-edge-litert releases need numpy 2, and an
# unpinned wheelhouse would make the offline install in the image fail.
#
#   image/make-wheelhouse.sh OUT_DIR
set -euo pipefail

out=${1:?usage: $0 OUT_DIR}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $(uname -m) == aarch64 ]] || { echo "$0: build on arm64 (this is $(uname -m))" >&2; exit 2; }

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
python3 -m venv "$build/venv"
"$build/venv/bin/pip" install --quiet --upgrade pip wheel
mkdir -p "$out"
"$build/venv/bin/pip" wheel --quiet --no-deps -w "$out" "$src"
bash "$src/scripts/appliance-venv.sh" --print-constraints > "$build/constraints.txt"
grep -q '^numpy==' "$build/constraints.txt" || { echo "$0: install python3-numpy first" >&2; exit 2; }
"$build/venv/bin/pip" wheel --quiet -w "$out" -c "$build/constraints.txt" "$out"/ssc_kiosk-*.whl
ls "$out"
