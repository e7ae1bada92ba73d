#!/bin/bash
# RAUC custom boot backend for the Raspberry Pi firmware's A/B "tryboot" (autoboot.txt).
#
#   [all]      boot_partition=N   the committed slot: what every normal boot starts
#   [tryboot]  boot_partition=M   the slot on trial: started once after `reboot "0 tryboot"`
#
# An update writes the new slot, points [tryboot] at it (set-primary) and reboots with the
# tryboot flag. The firmware clears that flag on the next reset, so if the new system hangs
# (hardware watchdog), crashes or loses power before rauc-mark-good runs, the board comes back
# on the committed slot: that is the rollback. mark-good (set-state good on the booted slot)
# commits the slot by rewriting [all].
set -euo pipefail

AUTOBOOT=${KIOSK_AUTOBOOT_TXT:-/boot/bootloader/autoboot.txt}
STATE=${KIOSK_TRYBOOT_STATE:-/data/rauc-tryboot.state}
CMDLINE=${KIOSK_CMDLINE:-/proc/cmdline}  # tests point these three at files of their own
declare -A PART=([A]=2 [B]=3)

die() { echo "kiosk-tryboot-backend: $*" >&2; exit 1; }

# section_value SECTION KEY: the value of KEY under [SECTION] in autoboot.txt.
section_value() {
    awk -v want="[$1]" -v key="$2" '
        /^\[/ { section = $0; next }
        section == want && index($0, key "=") == 1 { print substr($0, length(key) + 2); exit }
    ' "$AUTOBOOT"
}

bootname_of() {
    local part=$1 name
    for name in "${!PART[@]}"; do
        [[ ${PART[$name]} == "$part" ]] && { echo "$name"; return; }
    done
    die "partition $part is not a slot"
}

write_autoboot() {  # write_autoboot COMMITTED_PART TRIAL_PART
    local tmp=$AUTOBOOT.new
    printf '[all]\ntryboot_a_b=1\nboot_partition=%s\n[tryboot]\nboot_partition=%s\n' "$1" "$2" > "$tmp"
    sync "$tmp"
    mv "$tmp" "$AUTOBOOT"
    sync "$(dirname "$AUTOBOOT")"
}

booted() {  # the slot this boot started from (rpi-image-gen puts it on the command line)
    local word words
    read -r -a words < "$CMDLINE"
    for word in "${words[@]}"; do
        [[ $word == rauc.slot=* ]] && { echo "${word#rauc.slot=}"; return; }
    done
    bootname_of "$(section_value all boot_partition)"
}

set_state_file() {  # remember good/bad per slot on the data partition
    local others=""
    [[ -f $STATE ]] && others=$(grep -v "^$1=" "$STATE" || true)
    printf '%s\n%s=%s\n' "$others" "$1" "$2" | sed '/^$/d' > "$STATE.new"
    mv "$STATE.new" "$STATE"
}

[[ -f $AUTOBOOT ]] || die "$AUTOBOOT not found"
committed=$(section_value all boot_partition)
trial=$(section_value tryboot boot_partition)

case ${1:-} in
    get-primary)
        # After set-primary and before the trial boot, the trial slot is the one to boot next.
        if [[ -n $trial && $trial != "$committed" ]]; then bootname_of "$trial"; else bootname_of "$committed"; fi
        ;;
    set-primary)
        slot=${2:?slot}; part=${PART[$slot]:?unknown slot $slot}
        if [[ $(booted) == "$slot" ]]; then
            write_autoboot "$part" "$part"           # already running it: commit
        else
            write_autoboot "$committed" "$part"      # try it once at the next tryboot reboot
        fi
        ;;
    get-state)
        slot=${2:?slot}
        state=good
        [[ -f $STATE ]] && state=$(awk -F= -v s="$slot" '$1 == s { v = $2 } END { print v ? v : "good" }' "$STATE")
        echo "$state"
        ;;
    set-state)
        slot=${2:?slot}; state=${3:?good|bad}
        [[ $state == good || $state == bad ]] || die "state must be good or bad"
        set_state_file "$slot" "$state"
        if [[ $state == good && $(booted) == "$slot" ]]; then
            write_autoboot "${PART[$slot]}" "${PART[$slot]}"   # the trial worked: commit it
        elif [[ $state == bad && $(bootname_of "$committed") == "$slot" ]]; then
            die "refusing to mark the committed slot $slot bad"
        fi
        ;;
    get-current)
        booted
        ;;
    *)
        die "usage: $0 get-primary | set-primary SLOT | get-state SLOT | set-state SLOT good|bad | get-current"
        ;;
esac
