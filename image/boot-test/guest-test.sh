#!/bin/bash
# The checks inside the kiosk image booted by `make test-image` (image/boot_image.py), run as
# root by kiosk-image-test.service from the test disk (/run/kiosk-test). The harness writes the
# boot's stage to /run/kiosk-test/stage before each boot and reads the results back from the
# serial console (lines "KIT <stage> PASS|FAIL|INFO <check> <detail>") and from results.txt.
#
#   first         slot A, first boot: the data partition becomes LUKS2, the root is read-only,
#                 the UI draws, liveness runs on aarch64, provisioning phase 1 writes the request
#   provisioned   slot A: provisioning phase 2, both units active, a submission taken offline
#                 sits sealed in the outbox, the kiosk's key is not on the raw partition; then
#                 a good update is installed into slot B and the kiosk reboots to try it
#   trial-good    slot B on trial: marked good once both units run; then a broken update is
#                 installed into slot A and the kiosk reboots to try it
#   trial-broken  slot A on trial: the UI fails to start; its start limit reboots the kiosk
#   fallback      slot B again (the committed slot): the queue is still there
set -u
T=/run/kiosk-test
STICK=$T/stick
stage=$(cat "$T/stage")
KIOSK=/opt/kiosk/venv/bin/kiosk
AUTOBOOT=/boot/bootloader/autoboot.txt
failed=0

say() { echo "KIT $stage $*" | tee -a "$T/results.txt" > /dev/console; }
check() {  # check NAME COMMAND...: PASS or FAIL with the command's last output line
    local name=$1 out rc
    shift
    out=$("$@" 2>&1); rc=$?
    out=$(printf '%s' "$out" | tail -n 1 | cut -c1-160)
    if [[ $rc == 0 ]]; then say "PASS $name $out"; else say "FAIL $name rc=$rc $out"; failed=1; fi
}
wait_active() {  # wait_active UNIT SECONDS
    local unit=$1 i
    for ((i = 0; i < $2; i += 2)); do
        systemctl is-active -q "$unit" && { echo "$unit active after ${i}s"; return 0; }
        sleep 2
    done
    systemctl status --no-pager -n 5 "$unit" | tail -n 3
    return 1
}
as_kiosk() { runuser -u kiosk -g kiosk-data -- env HOME=/var/lib/kiosk "$@"; }
booted_slot() { tr ' ' '\n' < /proc/cmdline | sed -n 's/^rauc\.slot=//p'; }
autoboot() { awk -v want="[$1]" '/^\[/ { s = $0; next } s == want && /^boot_partition=/ { print substr($0, 16) }' "$AUTOBOOT"; }
is_booted() { [[ $(booted_slot) == "$1" ]] || { echo "booted $(booted_slot), expected $1"; return 1; }; echo "rauc.slot=$1"; }
autoboot_is() {  # autoboot_is ALL TRYBOOT
    local all try
    all=$(autoboot all); try=$(autoboot tryboot)
    echo "autoboot.txt: [all] boot_partition=$all [tryboot] boot_partition=$try"
    [[ $all == "$1" && $try == "$2" ]]
}
ui_drew() {  # the UI loop sets STATUS=screen=<name> from its frame; READY=1 alone comes earlier
    local status i
    for ((i = 0; i < 120; i += 2)); do
        status=$(systemctl show -p StatusText --value kiosk.service)
        [[ $status == screen=* ]] && { echo "kiosk.service status: $status"; return 0; }
        sleep 2
    done
    echo "kiosk.service status: '$status'"
    return 1
}
root_read_only() {
    [[ $(findmnt -no FSTYPE /) == overlay ]] || { echo "/ is not an overlay"; return 1; }
    findmnt -no OPTIONS /media/root-ro | grep -qE '(^|,)ro(,|$)' || { echo "system slot mounted rw"; return 1; }
    if touch /media/root-ro/kiosk-write-test 2> /dev/null; then echo "the system slot took a write"; return 1; fi
    echo "/ is an overlay; $(findmnt -no SOURCE /media/root-ro) is mounted ro and refuses writes"
}
data_encrypted() {
    cryptsetup isLuks --type luks2 /dev/disk/by-partlabel/data || { echo "data partition is not LUKS2"; return 1; }
    local src
    src=$(findmnt -no SOURCE /data)
    [[ $src == /dev/mapper/kioskdata ]] || { echo "/data is $src"; return 1; }
    echo "/data on $src; $(cryptsetup luksDump /dev/disk/by-partlabel/data | grep -m1 -E 'PBKDF:' | xargs)"
}
write_to_root() {  # / takes writes (into the RAM layer); the next boot must not see them
    echo "written on the first boot" > /etc/kiosk-image-test.marker || return 1
    echo "/etc/kiosk-image-test.marker written ($(findmnt -no OPTIONS / | cut -d, -f1))"
}
no_failed_units() {
    local failed
    failed=$(systemctl --failed --plain --no-legend | awk '{ print $1 }' | xargs)
    [[ -z $failed ]] || { echo "failed: $failed"; return 1; }
    echo "no failed units"
}
no_console_login() {  # the getty generator would start one on the console= device
    if systemctl is-active -q serial-getty@ttyAMA0.service; then echo "a login prompt on ttyAMA0"; return 1; fi
    echo "serial-getty@ttyAMA0: $(systemctl is-enabled serial-getty@ttyAMA0.service 2>&1)"
}
liveness() {
    local out
    # The synthetic camera (shipped in the wheel) animating a photo from the test disk: the
    # packaged test photos come with matplotlib and scikit-image, which the image does not carry.
    out=$(as_kiosk "$KIOSK" liveness check --camera "synthetic:$T/face.jpg,realtime=0" --json 2>&1 | tail -n 1)
    echo "$(uname -m): $out" | cut -c1-150
    [[ $(uname -m) == aarch64 && $out == *'"result": "live"'* ]]
}
provision() {  # provision EXPECTED_RC
    local out rc
    out=$("$KIOSK" provision --from "$STICK" 2>&1); rc=$?
    echo "rc=$rc $out" | tail -n 1
    [[ $rc == "$1" ]]
}
enqueue_offline() {  # a pension certification, sealed in the outbox while the bureau is unreachable
    local ref
    ref=$(as_kiosk /opt/kiosk/venv/bin/python - <<'EOF'
from kiosk.config import load
from kiosk.services.container import open_outbox

link = open_outbox(load())
assert link.outbox is not None, link.problem
receipt = link.outbox.enqueue("pension_certification", {
    "citizen": {"name": "王秀英", "id_number": "11010519491231002X"},
    "data": {"note": "IMAGE-TEST-SEALED-7f3a"}, "pictures": []})
print(receipt.reference)
EOF
) || return 1
    echo "$ref" > "$T/reference.txt"   # the test disk is root's
    echo "queued $ref"
}
queue_holds_sealed() {  # the reference is pending, its envelope holds neither the name nor the note
    as_kiosk /opt/kiosk/venv/bin/python - "$(cat "$T/reference.txt")" <<'EOF'
import sqlite3, sys
from kiosk.config import load

ref = sys.argv[1]
db = sqlite3.connect(f"file:{load().data_dir / 'outbox.db'}?mode=ro", uri=True)
row = db.execute("SELECT state, envelope FROM outbox WHERE reference = ?", (ref,)).fetchone()
assert row is not None, f"{ref} is not in the outbox"
state, envelope = row
for clear in ("王秀英".encode(), b"11010519491231002X", b"IMAGE-TEST-SEALED-7f3a"):
    assert clear not in envelope, f"{clear!r} in clear in the envelope"
print(f"{ref} {state}, sealed envelope of {len(envelope)} bytes")
assert state in ("pending", "in_flight"), state   # in_flight: the daemon is trying the bureau now
EOF
}
secrets_not_on_raw_partition() {
    # The key's PEM and the PIN hash, as the data file system holds them; the harness searches
    # the powered-off image for the same strings (secrets.txt is its copy).
    local key=/var/lib/kiosk/provisioning/kiosk.key pin=/var/lib/kiosk/provisioning/technician_pin_hash frag hash
    frag=$(sed -n 2p "$key" | cut -c1-48); hash=$(head -c 64 "$pin")
    printf '%s\n%s\n' "$frag" "$hash" > "$T/secrets.txt"
    sync
    echo 3 > /proc/sys/vm/drop_caches
    # -z: NUL-separated records, so gigabytes of zeros are many empty records, not one line.
    grep -qazF -e "$frag" /dev/mapper/kioskdata || { echo "control failed: key not found on the open device"; return 1; }
    if grep -qazF -e "$frag" -e "$hash" /dev/disk/by-partlabel/data; then echo "key or PIN hash in clear"; return 1; fi
    echo "key and PIN hash on /dev/mapper/kioskdata, not on the raw partition"
}
wait_committed() {  # wait_committed PARTITION SECONDS: rauc-mark-good rewrote [all]
    local i
    for ((i = 0; i < $2; i += 5)); do
        [[ $(autoboot all) == "$1" ]] && { echo "[all] boot_partition=$1 after ${i}s (rauc-mark-good)"; return 0; }
        sleep 5
    done
    systemctl status --no-pager -n 3 rauc-mark-good.service | tail -n 3
    return 1
}
wait_autoboot() {  # wait_autoboot ALL TRYBOOT SECONDS: after mark-good has run on this boot
    local i
    for ((i = 0; i < $3; i += 5)); do
        autoboot_is "$1" "$2" > /dev/null && { echo "$(autoboot_is "$1" "$2") after ${i}s"; return 0; }
        sleep 5
    done
    autoboot_is "$1" "$2"
}
diagnose() {  # failed units and their journal, for the harness to keep (journal-<stage>.txt)
    local failed unit
    failed=$(systemctl --failed --plain --no-legend | awk '{ print $1 }' | xargs)
    say "INFO failed-units ${failed:-none}; startup: $(systemd-analyze time 2>&1 | head -n1 | cut -c1-120)"
    {
        systemctl --failed --no-pager
        for unit in $failed; do journalctl -b --no-pager -n 25 -u "$unit"; done
        journalctl -b --no-pager -n 60 -u kiosk.service -u kiosk-sync.service -u rauc.service -u rauc-mark-good.service
    } > "$T/journal-$stage.txt" 2>&1
}
reboot_to_try() {  # what a technician does after `kiosk update install` (its REBOOT_HINT)
    diagnose
    say "INFO reboot systemctl reboot \"0 tryboot\""
    sync; umount "$T"
    systemctl reboot "0 tryboot"
    exit 0
}
power_off() {
    diagnose
    say "INFO done failed=$failed"
    sync; umount "$T"
    systemctl poweroff
    exit 0
}

say "INFO start booted=$(booted_slot) build=$(cat /etc/kiosk-image-build 2> /dev/null || echo image) uptime=$(cut -d' ' -f1 /proc/uptime)s"
case $stage in
    first)
        check data_encrypted data_encrypted
        check root_read_only root_read_only
        check no_console_login no_console_login
        check root_writes_go_to_ram write_to_root
        check ui_active wait_active kiosk.service 600
        check ui_drew ui_drew
        check liveness_aarch64 liveness
        check provision_phase1 provision 5
        power_off
        ;;
    provisioned)
        check data_encrypted data_encrypted
        check root_reset_at_boot test ! -e /etc/kiosk-image-test.marker
        check provision_phase2 provision 0
        systemctl restart kiosk-sync.service kiosk.service
        check sync_active wait_active kiosk-sync.service 300
        check ui_active wait_active kiosk.service 300
        check ui_drew ui_drew
        check no_failed_units no_failed_units
        check enqueue_offline enqueue_offline
        check queue_sealed queue_holds_sealed
        check secrets_not_on_raw_partition secrets_not_on_raw_partition
        check booted_a is_booted A
        check update_good "$KIOSK" update install --from "$T/update-good"
        check autoboot_trial_b autoboot_is 2 3
        reboot_to_try
        ;;
    trial-good)
        check booted_b is_booted B
        check build_good grep -x update-good /etc/kiosk-image-build
        check sync_active wait_active kiosk-sync.service 600
        check ui_active wait_active kiosk.service 600
        check marked_good wait_committed 3 900
        check autoboot_committed_b autoboot_is 3 3
        check no_failed_units no_failed_units
        check queue_sealed queue_holds_sealed
        check update_broken "$KIOSK" update install --from "$T/update-broken"
        check autoboot_trial_a autoboot_is 3 2
        reboot_to_try
        ;;
    trial-broken)
        say "INFO booted=$(booted_slot) build=$(cat /etc/kiosk-image-build): waiting for the UI's start limit"
        diagnose
        ;;
    fallback)
        check booted_b is_booted B
        check build_good grep -x update-good /etc/kiosk-image-build
        check ui_active wait_active kiosk.service 600
        # B was committed all along; mark-good on this boot also takes the failed trial's
        # pointer off [tryboot] (until then it still names A, used only with the tryboot flag).
        check autoboot_committed_b wait_autoboot 3 3 900
        check queue_sealed queue_holds_sealed
        say "INFO rauc $(rauc status --detailed 2>&1 | grep -E 'boot status|booted from' | xargs | cut -c1-150)"
        power_off
        ;;
    *)
        say "FAIL stage unknown stage '$stage'"
        power_off
        ;;
esac
