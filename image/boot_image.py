"""`make test-image`: boot the kiosk's arm64 image under qemu-system-aarch64 (-M virt, TCG, no
network device) and check it from inside, boot after boot, with this harness playing the Raspberry
Pi firmware's part in A/B updates.

The firmware's part: before each boot it reads the config partition's autoboot.txt and starts
the [all] boot partition, or the [tryboot] one when the previous boot ended with
`reboot "0 tryboot"` (the kernel prints "Restarting system with command '0 tryboot'" on the
serial console, where the Pi's firmware gets the same word through its mailbox). The flag lasts
one boot. It loads that boot partition's vmlinuz, initrd.img and cmdline.txt (adding only
console=ttyAMA0) and runs QEMU with -no-reboot, so every reboot comes back here.

The image is image/build-image-arm64.sh's; the harness boots a copy, to which it adds one unit
(boot-test/kiosk-image-test.service, which runs boot-test/guest-test.sh from a test disk) and the
dummy display drop-in. Other disks: the test disk (the script, the stage, the provisioning stick
and two update bundles, one good and one broken, made by image/make-bundle.sh from the same root)
and the stand-in for the Pi's OTP device key (32 random bytes; serial kiosk-otp).

Boots: first (slot A), provisioned (A; installs the good update into B), trial-good (B, marked
good; installs the broken update into A), trial-broken (A, the UI never starts; its start limit
reboots), fallback (B). Then the powered-off data partition is searched for the kiosk's key and
PIN hash. The log, the timings and every check: $KIOSK_ARM64_CACHE/boot/report.md.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SRC = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("KIOSK_ARM64_CACHE", "/var/tmp/kiosk-arm64"))
IMAGE = CACHE / "image"
WORK = CACHE / "boot"
BOOT_TIMEOUT_S = float(os.environ.get("KIOSK_IMAGE_BOOT_TIMEOUT", "5400"))
KIOSK_ID = "KIOSK-0077"
PIN = "480213"
TEST_UNIT = "/etc/systemd/system/kiosk-image-test.service"

# (stage, the slot the firmware must start, how the boot must end, checks that must PASS)
PLAN = [
    ("first", "A", "poweroff",
     ["data_encrypted", "root_read_only", "root_writes_go_to_ram", "no_console_login", "ui_active", "ui_drew", "liveness_aarch64", "provision_phase1"]),
    ("provisioned", "A", "tryboot",
     ["data_encrypted", "root_reset_at_boot", "provision_phase2", "sync_active", "ui_active", "ui_drew",
      "no_failed_units", "enqueue_offline", "queue_sealed", "secrets_not_on_raw_partition", "booted_a", "update_good",
      "autoboot_trial_b"]),
    ("trial-good", "B", "tryboot",
     ["booted_b", "build_good", "sync_active", "ui_active", "marked_good", "autoboot_committed_b",
      "no_failed_units", "queue_sealed", "update_broken", "autoboot_trial_a"]),
    ("trial-broken", "A", "reboot", []),
    ("fallback", "B", "poweroff",
     ["booted_b", "build_good", "autoboot_committed_b", "ui_active", "queue_sealed"]),
]
SLOT_OF_PART = {2: "A", 3: "B"}


def log(msg: str) -> None:
    print(f"[test-image {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(*cmd: str | Path, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], check=True, text=True, capture_output=True, **kw)  # type: ignore[call-overload]


# --- the disk image: partitions by number, files in them without mounting --------------------

@dataclass
class Disk:
    path: Path
    starts: dict[int, int] = field(default_factory=dict)   # partition number -> byte offset
    sizes: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        table = json.loads(run("sfdisk", "--json", self.path).stdout)["partitiontable"]
        for n, part in enumerate(table["partitions"], start=1):
            self.starts[n], self.sizes[n] = part["start"] * 512, part["size"] * 512

    def vfat_read(self, part: int, name: str, dest: Path | None = None) -> str:
        target = f"{self.path}@@{self.starts[part]}"
        if dest is not None:
            run("mcopy", "-o", "-n", "-i", target, f"::/{name}", dest)
            return ""
        return run("mtype", "-i", target, f"::/{name}").stdout

    def ext4(self, part: int) -> str:
        return f"{self.path}?offset={self.starts[part]}"

    def debugfs_write(self, part: int, commands: list[str]) -> None:
        script = WORK / "debugfs.cmds"
        script.write_text("\n".join(commands) + "\n")
        out = run("debugfs", "-w", "-f", script, self.ext4(part))
        if "error" in out.stderr.lower() or "could not" in out.stderr.lower():
            raise RuntimeError(f"debugfs: {out.stderr}")


def ext4_write(image: str, commands: list[str]) -> None:
    script = WORK / "debugfs.cmds"
    script.write_text("\n".join(commands) + "\n")
    run("debugfs", "-w", "-f", script, image)


def ext4_cat(image: str, path: str) -> str:
    return run("debugfs", "-R", f"cat {path}", image).stdout


# --- preparation ------------------------------------------------------------------------------

def prepare_image() -> Disk:
    """A fresh copy of the built image, with the test unit and the dummy display added to slot A."""
    src = IMAGE / "kiosk-arm64.img"
    if not src.exists():
        raise SystemExit(f"test-image: no image at {src}: run image/build-image-arm64.sh")
    disk_path = WORK / "disk.img"
    disk_path.unlink(missing_ok=True)
    run("cp", "--sparse=always", src, disk_path)
    disk = Disk(disk_path)
    disk.debugfs_write(4, _inject_commands())
    return disk


def _inject_commands() -> list[str]:
    bt = SRC / "image" / "boot-test"
    return [
        f"write {bt / 'kiosk-image-test.service'} {TEST_UNIT}",
        f"symlink /etc/systemd/system/multi-user.target.wants/kiosk-image-test.service {TEST_UNIT}",
        "mkdir /etc/systemd/system/kiosk.service.d",
        f"write {bt / 'kiosk-dummy-display.conf'} /etc/systemd/system/kiosk.service.d/image-test.conf",
        "mkdir /etc/systemd/system/kiosk-sync.service.d",
        f"write {bt / 'kiosk-sync-slow-cpu.conf'} /etc/systemd/system/kiosk-sync.service.d/image-test.conf",
    ]


def _inject_tree(root: Path) -> None:
    bt = SRC / "image" / "boot-test"
    wants = root / "etc/systemd/system/multi-user.target.wants"
    shutil.copy(bt / "kiosk-image-test.service", root / TEST_UNIT.lstrip("/"))
    (wants / "kiosk-image-test.service").unlink(missing_ok=True)
    (wants / "kiosk-image-test.service").symlink_to(TEST_UNIT)
    (root / "etc/systemd/system/kiosk.service.d").mkdir(exist_ok=True)
    shutil.copy(bt / "kiosk-dummy-display.conf", root / "etc/systemd/system/kiosk.service.d/image-test.conf")
    (root / "etc/systemd/system/kiosk-sync.service.d").mkdir(exist_ok=True)
    shutil.copy(bt / "kiosk-sync-slow-cpu.conf", root / "etc/systemd/system/kiosk-sync.service.d/image-test.conf")


def make_bundles() -> dict[str, Path]:
    """The good update (the same root, named update-good) and the broken one (its UI raises at
    start), signed with the image's development CA; cached on the root's stamp."""
    stamp = (IMAGE / "rootfs.stamp").read_text().strip() + (IMAGE / "rootfs/etc/fstab").read_text()
    stamp += (SRC / "image/make-bundle.sh").read_text()
    stamp += (SRC / "image/rauc/bundle-hook.sh").read_text() + "".join(
        p.read_text() for p in sorted((SRC / "image/boot-test").iterdir()))
    out = {name: WORK / "bundles" / name / "kiosk.raucb" for name in ("update-good", "update-broken")}
    stamp_file = WORK / "bundles" / "stamp"
    if stamp_file.exists() and stamp_file.read_text() == stamp and all(p.exists() for p in out.values()):
        log("update bundles: cached")
        return out
    shutil.rmtree(WORK / "bundles", ignore_errors=True)
    tree = WORK / "rootfs-update"
    shutil.rmtree(tree, ignore_errors=True)
    log("update bundles: copying the root")
    run("cp", "-a", IMAGE / "rootfs", tree)
    _inject_tree(tree)
    for name in ("update-good", "update-broken"):
        (tree / "etc/kiosk-image-build").write_text(name + "\n")
        if name == "update-broken":
            app = next(tree.glob("opt/kiosk/venv/lib/python3*/site-packages/kiosk/app.py"))
            with app.open("a") as f:
                f.write('\nraise RuntimeError("a deliberately broken update (make test-image)")\n')
            for cached in app.parent.glob("__pycache__/app.*.pyc"):
                cached.unlink()
        out[name].parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        done = run("bash", SRC / "image/make-bundle.sh", tree, f"0.0.1+{name}", IMAGE / "dev-rauc-ca.pem",
                   IMAGE / "dev-rauc-ca.key", out[name])
        log(f"{done.stdout.strip()} in {time.monotonic() - t0:.0f} s")
    shutil.rmtree(tree)
    stamp_file.write_text(stamp)
    return out


def make_stick(stick: Path) -> Path:
    """The bureau's provisioning bundle for KIOSK_ID, from the bureau simulator's PKI."""
    sys.path.insert(0, str(SRC))
    from simulators.bureau import pki

    state = WORK / "bureau-state"
    files = pki.ensure(state, [KIOSK_ID])
    shutil.rmtree(stick, ignore_errors=True)
    kiosk = Path(sys.executable).parent / "kiosk"
    made = subprocess.run(
        [str(kiosk), "provision", "bundle", str(stick), "--kiosk-id", KIOSK_ID,
         "--bureau-url", "https://bureau.invalid:8443", "--kiosk-ca", str(files.kiosk_ca),
         "--server-ca", str(files.server_ca), "--sealing-key", str(files.hpke_public_pem)],
        input=f"{PIN}\n", text=True, capture_output=True, check=False)
    if made.returncode != 0:
        raise SystemExit(f"test-image: kiosk provision bundle failed: {made.stderr}")
    return state


def sign_request(test_img: str, state: Path) -> None:
    """Between phases 1 and 2: the bureau signs the request the kiosk wrote to the stick."""
    sys.path.insert(0, str(SRC))
    from tests.provisioning.helpers import load_ca
    from tests.provisioning.helpers import sign_request as sign

    csr = ext4_cat(test_img, "/stick/kiosk.csr")
    if "CERTIFICATE REQUEST" not in csr:
        raise SystemExit("test-image: the first boot wrote no certificate request to the stick")
    pem = WORK / "kiosk.pem"
    pem.write_bytes(sign(csr.encode(), load_ca(state)))
    ext4_write(test_img, [f"write {pem} /stick/kiosk.pem"])
    log("the bureau signed the kiosk's request; kiosk.pem is on the stick")


def make_test_disk(bundles: dict[str, Path]) -> tuple[Path, Path]:
    stage = WORK / "testdisk"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    shutil.copy(SRC / "image/boot-test/guest-test.sh", stage)
    (stage / "stage").write_text("first\n")
    sys.path.insert(0, str(SRC))
    from simulators.camera.faces import _package_file

    shutil.copy(_package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg"), stage / "face.jpg")
    state = make_stick(stage / "stick")
    for name, bundle in bundles.items():
        (stage / name).mkdir()
        os.link(bundle, stage / name / "kiosk.raucb")
    size_mib = sum(b.stat().st_size for b in bundles.values()) // 2**20 + 512
    test = WORK / "test.ext4"
    test.unlink(missing_ok=True)
    run("mke2fs", "-q", "-t", "ext4", "-L", "KIOSKTEST", "-d", stage, test, f"{size_mib}M")
    shutil.rmtree(stage)
    return test, state


def make_otp() -> Path:
    """The Pi's OTP device-unique key, for QEMU: a disk whose first 32 bytes are the key."""
    otp = WORK / "otp.img"
    otp.write_bytes(secrets.token_bytes(32) + bytes(1024 * 1024 - 32))
    return otp


# --- the firmware and the boots -----------------------------------------------------------------

def autoboot(disk: Disk) -> dict[str, int]:
    sections: dict[str, int] = {}
    current = ""
    for raw in disk.vfat_read(1, "autoboot.txt").splitlines():
        line = raw.strip()
        if line.startswith("["):
            current = line.strip("[]")
        elif line.startswith("boot_partition="):
            sections[current] = int(line.split("=", 1)[1])
    return sections


def choose_partition(sections: dict[str, int], tryboot: bool) -> int:
    """The firmware's choice: [tryboot] for the one boot after `reboot "0 tryboot"` (when
    tryboot_a_b is set, as the image's autoboot.txt does), [all] otherwise."""
    return sections["tryboot"] if tryboot and "tryboot" in sections else sections["all"]


def ending_of(serial: str) -> str:
    """How a boot ended, from the kernel's last words on the serial console (printed at
    KERN_EMERG, whatever the log level): the reboot command is what the firmware would get."""
    if m := re.search(r"Restarting system with command '([^']*)'", serial):
        return "tryboot" if "tryboot" in m.group(1).split() else f"reboot ({m.group(1)})"
    if "Restarting system" in serial:
        return "reboot"
    if "Power down" in serial:
        return "poweroff"
    return "unknown"


def qemu_cpu() -> str:
    cpus = run("qemu-system-aarch64", "-M", "virt", "-cpu", "help").stdout
    return "cortex-a76" if "cortex-a76" in cpus else "cortex-a72"   # a Pi 5's core, if QEMU has it


@dataclass
class Boot:
    stage: str
    part: int
    seconds: float
    ending: str
    kit: list[str]
    log: Path


def boot(disk: Disk, test_img: Path, otp: Path, stage: str, tryboot: bool, n: int) -> Boot:
    ab = autoboot(disk)
    part = choose_partition(ab, tryboot)
    kdir = WORK / "kernel"
    shutil.rmtree(kdir, ignore_errors=True)
    kdir.mkdir()
    for name in ("vmlinuz", "initrd.img"):
        disk.vfat_read(part, name, kdir / name)
    cmdline = disk.vfat_read(part, "cmdline.txt").strip() + " console=ttyAMA0"
    ext4_write(str(test_img), ["rm /stage", f"write {_text(WORK / 'stage.txt', stage)} /stage"])
    serial = WORK / f"boot-{n}-{stage}.log"
    log(f"boot {n} ({stage}): autoboot {ab}, tryboot={'yes' if tryboot else 'no'} -> partition {part}")
    cmd = ["qemu-system-aarch64", "-M", "virt", "-cpu", qemu_cpu(), "-smp", "2", "-m", "2048",
           "-accel", "tcg,thread=multi", "-display", "none", "-monitor", "none", "-no-reboot",
           "-nic", "none", "-serial", f"file:{serial}",
           "-kernel", str(kdir / "vmlinuz"), "-initrd", str(kdir / "initrd.img"), "-append", cmdline,
           "-drive", f"file={disk.path},format=raw,if=none,id=sd,cache=unsafe,detect-zeroes=on",
           "-device", "virtio-blk-pci,drive=sd",
           "-drive", f"file={otp},format=raw,if=none,id=otp,readonly=on",
           "-device", "virtio-blk-pci,drive=otp,serial=kiosk-otp",
           "-drive", f"file={test_img},format=raw,if=none,id=test,cache=unsafe",
           "-device", "virtio-blk-pci,drive=test,serial=kiosk-test"]
    t0 = time.monotonic()
    try:
        subprocess.run(cmd, check=False, timeout=BOOT_TIMEOUT_S, stdin=subprocess.DEVNULL)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    seconds = time.monotonic() - t0
    text = serial.read_text(errors="replace")
    ending = "timeout" if timed_out else ending_of(text)
    journal = ext4_cat(str(test_img), f"/journal-{stage}.txt")
    if journal:
        (WORK / f"journal-{n}-{stage}.txt").write_text(journal)
    kit = [line.strip() for line in text.splitlines() if line.startswith("KIT ")]
    for line in kit:
        log(f"  {line}")
    log(f"boot {n} ({stage}) ended by {ending} after {seconds:.0f} s")
    return Boot(stage, part, seconds, ending, kit, serial)


def _text(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    return path


def judge(b: Boot, slot: str, ending: str, musts: list[str]) -> list[str]:
    problems = []
    if SLOT_OF_PART.get(b.part) != slot:
        problems.append(f"{b.stage}: the firmware started partition {b.part}, expected slot {slot}")
    if b.ending != ending:
        problems.append(f"{b.stage}: ended by {b.ending}, expected {ending}")
    passed = {line.split()[3] for line in b.kit if line.split()[2] == "PASS"}
    problems += [f"{b.stage}: {line}" for line in b.kit if line.split()[2] == "FAIL"]
    problems += [f"{b.stage}: check {name} did not pass" for name in musts if name not in passed]
    return problems


def data_at_rest(disk: Disk, test_img: Path) -> list[str]:
    """The powered-off data partition: a LUKS2 header, and none of the kiosk's secrets in clear
    (the strings the kiosk saw in its open file system, from the test disk)."""
    lines = ext4_cat(str(test_img), "/secrets.txt").split()
    if len(lines) != 2:
        return ["data at rest: the kiosk wrote no secrets.txt to compare with"]
    needles = [s.encode() for s in lines]
    start, size = disk.starts[6], disk.sizes[6]
    with disk.path.open("rb") as f:
        f.seek(start)
        head = f.read(6)
    found = _search(disk.path, start, size, needles)
    problems = []
    if head != b"LUKS\xba\xbe":
        problems.append(f"data at rest: partition 6 starts with {head!r}, not a LUKS header")
    if found:
        problems.append(f"data at rest: found in clear: {found}")
    # The control: the same search finds them on the test disk, where the kiosk wrote them in clear.
    if len(_search(test_img, 0, test_img.stat().st_size, needles)) != len(needles):
        problems.append("data at rest: the control failed (the search missed them on the test disk)")
    log(f"data at rest: header {head!r}; {size >> 20} MiB searched for the key and the PIN hash: "
        f"{'found' if found else 'not found'}")
    return problems


def _search(path: Path, start: int, size: int, needles: list[bytes]) -> list[str]:
    """Which needles occur in path[start:start+size] (read in chunks, overlapping)."""
    found: set[str] = set()
    with path.open("rb") as f:
        f.seek(start)
        tail, done = b"", 0
        while done < size:
            chunk = f.read(min(8 << 20, size - done))
            if not chunk:
                break
            window = tail + chunk
            found |= {n.decode()[:12] + "..." for n in needles if n in window}
            tail, done = window[-128:], done + len(chunk)
    return sorted(found)


def main() -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    log("preparing: the image copy, the bundles, the test disk, the OTP disk")
    bundles = make_bundles()
    disk = prepare_image()
    test_img, state = make_test_disk(bundles)
    otp = make_otp()
    (WORK / "results").mkdir(exist_ok=True)
    boots: list[Boot] = []
    problems: list[str] = []
    tryboot = False
    for n, (stage, slot, ending, musts) in enumerate(PLAN, start=1):
        b = boot(disk, test_img, otp, stage, tryboot, n)
        boots.append(b)
        tryboot = b.ending == "tryboot"   # the flag lasts one boot; the firmware clears it
        found = judge(b, slot, ending, musts)
        problems += found
        if b.ending in ("timeout", "unknown") or (found and stage in ("first", "provisioned")):
            log("stopping: the next boots depend on this one")
            break
        if stage == "first":
            sign_request(str(test_img), state)
    if len(boots) == len(PLAN):
        problems += data_at_rest(disk, test_img)
    report(boots, problems, time.monotonic() - t0)
    return 1 if problems or len(boots) < len(PLAN) else 0


def report(boots: list[Boot], problems: list[str], seconds: float) -> None:
    lines = ["# make test-image: the last run", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; QEMU {qemu_cpu()}, 2 vCPUs, 2 GiB, TCG, "
             f"no network device; {seconds:.0f} s in all.", "",
             "| boot | stage | partition | ended by | seconds |", "|---|---|---|---|---|"]
    lines += [f"| {i} | {b.stage} | {b.part} ({SLOT_OF_PART.get(b.part, '?')}) | {b.ending} | {b.seconds:.0f} |"
              for i, b in enumerate(boots, start=1)]
    lines += ["", "```"] + [line for b in boots for line in b.kit] + ["```", ""]
    lines += ["Problems:" if problems else "No problems."] + [f"- {p}" for p in problems]
    (WORK / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
