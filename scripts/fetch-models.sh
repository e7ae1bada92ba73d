#!/usr/bin/env bash
# Fetches the two MediaPipe face models (Apache-2.0) from the pinned PyPI wheel mediapipe==0.10.14,
# checks their SHA-256 and caches them; idempotent (does nothing when both files already verify).
# Nothing downloads at run time: the kiosk only reads the cache (kiosk/liveness/models.py).
#   usage: scripts/fetch-models.sh [DEST_DIR]   (default: $KIOSK_LIVENESS_MODEL_DIR or ./models)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-${KIOSK_LIVENESS_MODEL_DIR:-models}}"
PY="${PYTHON_FOR_PIP:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
MEDIAPIPE_VERSION=0.10.14

# file name -> expected SHA-256 (REFERENCE.md, "Face liveness"); keep in step with models.py
declare -A SHA=(
    [face_detection_short_range.tflite]=bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8
    [face_landmark.tflite]=1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814
)
declare -A INNER=(
    [face_detection_short_range.tflite]=mediapipe/modules/face_detection/face_detection_short_range.tflite
    [face_landmark.tflite]=mediapipe/modules/face_landmark/face_landmark.tflite
)

verified() { [ -f "$DEST/$1" ] && echo "${SHA[$1]}  $DEST/$1" | sha256sum --check --status; }

need=0
for f in "${!SHA[@]}"; do verified "$f" || need=1; done
if [ "$need" -eq 0 ]; then
    echo "fetch-models: models present and verified in $DEST"
    exit 0
fi

mkdir -p "$DEST"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# The model files are identical in every platform wheel; try a few in turn.
for plat in manylinux_2_17_x86_64 manylinux_2_17_aarch64 macosx_11_0_universal2; do
    if "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
            --platform "$plat" "mediapipe==$MEDIAPIPE_VERSION" -d "$TMP" 2>"$TMP/pip.err"; then
        break
    fi
done
WHEEL="$(ls "$TMP"/mediapipe-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$WHEEL" ]; then
    echo "fetch-models: could not download mediapipe==$MEDIAPIPE_VERSION from PyPI:" >&2
    cat "$TMP/pip.err" >&2
    exit 1
fi
for f in "${!SHA[@]}"; do
    "$PY" - "$WHEEL" "${INNER[$f]}" "$DEST/$f.part" <<'EOF'
import sys, zipfile
wheel, inner, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, open(out, "wb") as fh:
    fh.write(z.read(inner))
EOF
    if ! echo "${SHA[$f]}  $DEST/$f.part" | sha256sum --check --status; then
        echo "fetch-models: $f from the wheel does not match its SHA-256; refusing it" >&2
        rm -f "$DEST/$f.part"
        exit 1
    fi
    mv "$DEST/$f.part" "$DEST/$f"
    echo "fetch-models: $DEST/$f verified"
done
rm -f "$WHEEL"
