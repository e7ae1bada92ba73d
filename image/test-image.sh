#!/bin/bash
# `make test-image`: build the arm64 image if its inputs changed (image/build-image-arm64.sh,
# after `make test-arm64`'s caches), then boot it under qemu-system-aarch64 with
# image/boot_image.py playing the Pi firmware's A/B part. Slow (each TCG boot takes minutes):
# not part of `make test`. Needs root. The last run's report: $KIOSK_ARM64_CACHE/boot/report.md.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${KIOSK_ARM64_CACHE:-/var/tmp/kiosk-arm64}
[[ $(id -u) == 0 ]] || { echo "test-image: run as root (sudo make test-image)" >&2; exit 2; }
renice -n 19 -p $$ > /dev/null
ionice -c3 -p $$ 2> /dev/null || true

need=()
for tool in qemu-system-aarch64:qemu-system-arm rauc:rauc mksquashfs:squashfs-tools mcopy:mtools \
            debugfs:e2fsprogs mkfs.vfat:dosfstools sfdisk:fdisk mmdebstrap:mmdebstrap; do
    command -v "${tool%%:*}" > /dev/null || need+=("${tool#*:}")
done
if [[ ${#need[@]} -gt 0 ]]; then
    echo "test-image: installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" > /dev/null
fi
if [[ ! -f $cache/wheelhouse-test/.kiosk-stamp ]] || ! ls "$cache"/models/*.tflite > /dev/null 2>&1; then
    echo "test-image: no aarch64 wheelhouse or models yet: running image/test-arm64.sh's set-up first"
    bash "$src/image/test-arm64.sh" --collect-only -q tests/test_config.py > /dev/null
fi
bash "$src/image/build-image-arm64.sh"
exec "$src/.venv/bin/python" "$src/image/boot_image.py"
