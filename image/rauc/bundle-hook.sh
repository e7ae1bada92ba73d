#!/bin/bash
# The hook every kiosk bundle carries (image/make-bundle.sh puts it in as hook.sh; manifest:
# [hooks] filename=hook.sh, [image.boot] hooks=post-install). A bundle is the same for both
# slots, but each boot slot's cmdline.txt must start its own system slot: after RAUC has written
# the boot image into boot.0 (A) or boot.1 (B), and while it has it mounted, point cmdline.txt at
# that slot's system partition and name the slot for RAUC and the tryboot backend (rauc.slot=).
set -euo pipefail

[[ ${1:-} == slot-post-install && ${RAUC_SLOT_CLASS:-} == boot ]] || exit 0
case ${RAUC_SLOT_NAME:?} in
    boot.0) slot=A ;;
    boot.1) slot=B ;;
    *) echo "bundle hook: unknown boot slot $RAUC_SLOT_NAME" >&2; exit 1 ;;
esac
cmdline=${RAUC_SLOT_MOUNT_POINT:?}/cmdline.txt
[[ -f $cmdline ]] || { echo "bundle hook: no cmdline.txt in $RAUC_SLOT_NAME" >&2; exit 1; }
sed -E -e "s/root=PARTLABEL=system_[ab]/root=PARTLABEL=system_${slot,,}/" \
       -e "s/rauc\.slot=[AB]/rauc.slot=$slot/" "$cmdline" > "$cmdline.new"
grep -q "rauc.slot=$slot" "$cmdline.new" || { echo "bundle hook: cmdline.txt names no slot" >&2; exit 1; }
mv "$cmdline.new" "$cmdline"
sync
echo "bundle hook: $RAUC_SLOT_NAME starts system_${slot,,} ($(cat "$cmdline"))"
