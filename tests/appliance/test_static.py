"""What can be checked of the appliance without booting it: unit files, hardening scores,
shell scripts, the image recipe's YAML and RAUC files. Fast; runs everywhere these tools exist."""

from __future__ import annotations

import configparser
import fnmatch
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "systemd"
IMAGE = REPO / "image"
SERVICES = ("kiosk.service", "kiosk-sync.service")
MAX_EXPOSURE = 2.0  # systemd-analyze security: 0 = locked down, 10 = unprotected


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if not path:
        pytest.skip(f"{tool} not installed (apt-get install {package})")
    return path


def shell_scripts() -> list[Path]:
    found = [
        p
        for d in (SYSTEMD, IMAGE)
        for p in d.rglob("*")
        if p.is_file()
        and (
            p.suffix == ".sh"
            or p.read_bytes()[:20].startswith(b"#!/bin/bash")
            or p.read_bytes()[:20].startswith(b"#!/bin/sh")
        )
    ]
    return sorted(found + list((REPO / "scripts").glob("appliance-*.sh")))


def test_shellcheck_clean() -> None:
    """GIVEN every shell script in systemd/, image/ and scripts/appliance-*.sh THEN shellcheck
    has nothing to say."""
    shellcheck = _need("shellcheck", "shellcheck")
    scripts = shell_scripts()
    assert scripts
    proc = subprocess.run(
        [shellcheck, "--external-sources", *map(str, scripts)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_units_verify_against_a_root(tmp_path: Path) -> None:
    """GIVEN the units in a root with the host's systemd units and a stand-in ExecStart
    WHEN systemd-analyze verify --root runs THEN stderr is empty (the boot test repeats this
    against the real rootfs with the package installed)."""
    analyze = _need("systemd-analyze", "systemd")
    units = tmp_path / "usr/lib/systemd/system"
    shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    for name in SERVICES:
        shutil.copy(SYSTEMD / name, units / name)
    shutil.copy(IMAGE / "files/kiosk-data-layout.service", units)
    for binary in ("opt/kiosk/venv/bin/kiosk", "usr/bin/install"):  # the ExecStart= programs
        exe = tmp_path / binary
        exe.parent.mkdir(parents=True, exist_ok=True)
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    proc = subprocess.run(
        [analyze, "verify", f"--root={tmp_path}", *SERVICES, "kiosk-data-layout.service"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.stderr == "" and proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("unit", SERVICES)
def test_security_exposure_is_low(unit: str) -> None:
    analyze = _need("systemd-analyze", "systemd")
    proc = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(SYSTEMD / unit)],
        check=False,
        capture_output=True,
        text=True,
    )
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout)
    assert m, proc.stdout + proc.stderr
    assert float(m.group(1)) <= MAX_EXPOSURE, proc.stdout


def test_ui_unit_has_no_network_and_sync_unit_no_devices() -> None:
    """The design's one door out: the UI has no IP and only local socket families; the sync
    daemon sees no devices and gets its key as a credential."""
    ui = (SYSTEMD / "kiosk.service").read_text()
    sync = (SYSTEMD / "kiosk-sync.service").read_text()
    assert re.search(r"(?m)^IPAddressDeny=any$", ui)
    families = re.search(r"(?m)^RestrictAddressFamilies=(.*)$", ui).group(1).split()
    assert not {"AF_INET", "AF_INET6", "AF_PACKET"} & set(families)
    assert re.search(r"(?m)^DevicePolicy=closed$", ui)
    assert re.search(r"(?m)^PrivateDevices=yes$", sync)
    # The key is where `kiosk provision` installs it: the provisioning store in the data directory.
    from kiosk import provisioning, schema
    from kiosk.provision.install import KEY

    data_dir = next(k.default for k in schema.SCHEMA if k.name == "kiosk.data_dir")
    store_key = f"{data_dir}/{provisioning.STORE_DIR}/{KEY}"
    assert re.findall(r"(?m)^LoadCredential=(.*)$", sync) == [f"kiosk.key:{store_key}"]
    for text in (ui, sync):
        assert re.search(r"(?m)^Type=notify$", text) and re.search(r"(?m)^WatchdogSec=", text)
        assert re.search(r"(?m)^Group=kiosk-data$", text) and re.search(r"(?m)^UMask=0007$", text)


@pytest.mark.parametrize("unit", SERVICES)
def test_units_hand_over_the_boot_id(unit: str) -> None:
    """ProcSubset=pid hides /proc/sys/kernel/random/boot_id: the unit passes %b instead, or
    every start counts as a new boot (issue 13, #10; kiosk/sync/clock.py reads it)."""
    text = (SYSTEMD / unit).read_text()
    assert re.search(r"(?m)^ProcSubset=pid$", text)
    assert re.search(r"(?m)^Environment=KIOSK_BOOT_ID=%b$", text)


@pytest.mark.parametrize("unit", SERVICES)
def test_units_bound_memory_tasks_and_descriptors(unit: str) -> None:
    """Issue 13, #9: a runaway or flooded process is stopped by its own limits, not the box."""
    text = (SYSTEMD / unit).read_text()
    memory = re.search(r"(?m)^MemoryMax=(\d+)M$", text)
    tasks = re.search(r"(?m)^TasksMax=(\d+)$", text)
    files = re.search(r"(?m)^LimitNOFILE=(\d+)$", text)
    assert memory and tasks and files, "MemoryMax=, TasksMax= and LimitNOFILE= in every unit"
    assert 64 <= int(memory.group(1)) <= 1024
    assert 16 <= int(tasks.group(1)) <= 128 and 64 <= int(files.group(1)) <= 1024


def test_chrony_steps_only_at_boot_and_names_nts() -> None:
    """Issue 13, #11: no `makestep 1 -1` (any unauthenticated source could move the clock at any
    time); stepping only in the first updates after boot, and an NTS server line documented."""
    conf = (SYSTEMD / "chrony/kiosk.conf").read_text()
    steps = re.findall(r"(?m)^makestep\s+(\S+)\s+(\S+)\s*$", conf)
    assert len(steps) == 1, steps
    threshold, limit = float(steps[0][0]), int(steps[0][1])
    assert threshold > 0 and 0 < limit <= 3, steps
    assert re.search(r"(?m)^#\s*server\s+\S+.*\bnts\b", conf), "no documented NTS server line"


def test_udev_rule_parses() -> None:
    """Every rule line is KEY{ATTR}OP"VALUE" pairs with a key udev knows and an operator it takes;
    every GOTO jumps forward to a LABEL; printers get group lp, mode 0660."""
    rules = parse_udev_rules((SYSTEMD / "udev/70-kiosk-printer.rules").read_text())
    labels = [i for i, rule in enumerate(rules) for key, _, _, value in rule if key == "LABEL"]
    for i, rule in enumerate(rules):
        for key, _, _, value in rule:
            if key == "GOTO":
                assert any(j > i and rules[j][0][3] == value for j in labels), f"GOTO {value}: no LABEL after it"
    assignments = {(key, value) for rule in rules for key, _, op, value in rule if op in ("=", "+=")}
    assert {("GROUP", "lp"), ("MODE", "0660"), ("SYMLINK", "kiosk-printer")} <= assignments


MATCH_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "DRIVER", "ENV", "ATTR", "ATTRS", "SUBSYSTEMS"}
ASSIGN_KEYS = {"MODE", "GROUP", "OWNER", "SYMLINK", "GOTO", "LABEL", "ENV", "TAG", "RUN"}


def parse_udev_rules(text: str) -> list[list[tuple[str, str, str, str]]]:
    """Each rule line as (key, attribute, operator, value) tuples; AssertionError on a line udev
    would not read the way it is meant."""
    pair = re.compile(r'([A-Z_]+)(?:\{([^}]+)\})?(==|!=|\+=|:=|=)"([^"]*)"')
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = [pair.fullmatch(part) for part in line.split(", ")]
        assert all(tokens), line
        rule = [m.groups(default="") for m in tokens if m]
        for key, _, op, _ in rule:
            if op in ("==", "!="):
                assert key in MATCH_KEYS, f"{key} cannot be matched: {line}"
            else:
                assert key in ASSIGN_KEYS, f"{key} cannot be assigned: {line}"
        rules.append(rule)
    return rules


def udev_result(text: str, device: dict[str, str]) -> dict[str, str]:
    """What the rules assign to one device (a small interpreter of the keys the file uses)."""
    rules, out, i = parse_udev_rules(text), {}, 0
    while i < len(rules):
        rule = rules[i]
        i += 1
        matched = True
        for key, attr, op, value in rule:
            if op not in ("==", "!="):
                continue
            have = device.get(f"{key}{{{attr}}}" if attr else key, "")
            matched &= fnmatch.fnmatchcase(have, value) == (op == "==")
        if not matched:
            continue
        for key, _, op, value in rule:
            if key == "GOTO":
                i = next(j for j in range(i, len(rules)) if rules[j][0] == ("LABEL", "", "=", value)) + 1
            elif op in ("=", "+=") and key != "LABEL":
                out[key] = value
    return out


def usb(vid: str, pid: str, interfaces: str, devtype: str = "usb_device", action: str = "add") -> dict[str, str]:
    return {"ACTION": action, "SUBSYSTEM": "usb", "ENV{DEVTYPE}": devtype, "ATTR{idVendor}": vid,
            "ATTR{idProduct}": pid, "ENV{ID_USB_INTERFACES}": interfaces}


@pytest.mark.parametrize("device, printer", [
    (usb("1234", "5678", ":070102:"), True),  # any maker's printer-class device
    (usb("1234", "5678", ":030101:070101:"), True),  # a composite device with a printer interface
    (usb("04b8", "0202", ":ff0000:"), True),  # an Epson TM in vendor-defined mode: its VID:PID
    (usb("04b8", "0202", ":070102:"), True),  # the same in printer-class mode: by class
    (usb("04b8", "0202", ":030101:"), False),  # a listed VID:PID that is not vendor class
    (usb("1234", "5678", ":ff0000:"), False),  # an unknown vendor-class device
    (usb("046d", "c31c", ":030101:030102:"), False),  # a keyboard
    (usb("1234", "5678", ":070102:", devtype="usb_interface"), False),  # not the node libusb opens
    (usb("1234", "5678", ":070102:", action="remove"), False),
    ({"ACTION": "add", "SUBSYSTEM": "tty", "ENV{ID_USB_INTERFACES}": ":070102:"}, False),
])
def test_udev_rule_gives_printers_by_class_to_lp(device: dict[str, str], printer: bool) -> None:
    """The printer is matched by its USB interface class (07), not a model list; VID:PID entries
    only for vendor-class (ff) printers."""
    got = udev_result((SYSTEMD / "udev/70-kiosk-printer.rules").read_text(), device)
    want = {"MODE": "0660", "GROUP": "lp", "SYMLINK": "kiosk-printer"} if printer else {}
    assert got == want


def test_udev_rule_verifies_where_udevadm_can() -> None:
    """systemd >= 253 has `udevadm verify`; Debian 12 (252) has not: then the parse tests above
    stand in for it."""
    udevadm = _need("udevadm", "udev")
    if subprocess.run([udevadm, "verify", "--help"], capture_output=True).returncode != 0:
        pytest.skip("this udevadm has no verify (systemd < 253)")
    res = subprocess.run([udevadm, "verify", "--resolve-names=never", str(SYSTEMD / "udev/70-kiosk-printer.rules")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_image_layer_is_valid_yaml_with_its_packages() -> None:
    layer_file = IMAGE / "layer/kiosk.yaml"
    text = layer_file.read_text()
    assert "# METABEGIN" in text and "# METAEND" in text
    layer = yaml.safe_load(text.split("# METAEND", 1)[1])
    pkgs = set(layer["mmdebstrap"]["packages"])
    for needed in (
        "pcscd",
        "libccid",
        "python3-picamera2",
        "fonts-noto-cjk",
        "espeak-ng",
        "libgbm1",
        "python3-venv",
        "python3-numpy",
        "chrony",
        "fake-hwclock",
        "rauc",
        "overlayroot",
    ):
        assert needed in pkgs, needed
    boot_test = (REPO / "tests/appliance/rootfs-packages.txt").read_text().split()
    assert {"python3-numpy", "libpcsclite1", "libgbm1"} <= pkgs | {"libpcsclite1"}
    assert "python3-numpy" in boot_test
    for hook in layer["mmdebstrap"]["customize-hooks"]:
        assert isinstance(hook, str)


def test_rauc_files_parse() -> None:
    system = configparser.ConfigParser()
    system.read(IMAGE / "rauc/system.conf")
    assert system["system"]["compatible"] and system["keyring"]["path"]
    slots = [s for s in system.sections() if s.startswith("slot.")]
    assert {"slot.rootfs.0", "slot.rootfs.1"} <= set(slots)
    manifest = configparser.ConfigParser()
    manifest.read(IMAGE / "rauc/manifest.raucm.example")
    assert manifest["update"]["compatible"] == system["system"]["compatible"]
    assert any(s.startswith("image.") for s in manifest.sections())


def test_tryboot_backend_update_commit_and_rollback(tmp_path: Path) -> None:
    """GIVEN slot A committed WHEN B is installed (set-primary B) THEN only the next tryboot
    starts B; GIVEN the trial boot of B WHEN mark-good THEN B is committed; a trial that never
    marks good leaves A committed (the firmware drops the tryboot flag on reset)."""
    backend = IMAGE / "rauc/tryboot-backend.sh"
    autoboot, cmdline = tmp_path / "autoboot.txt", tmp_path / "cmdline"
    autoboot.write_text("[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=2\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "KIOSK_AUTOBOOT_TXT": str(autoboot),
        "KIOSK_TRYBOOT_STATE": str(tmp_path / "state"),
        "KIOSK_CMDLINE": str(cmdline),
    }

    def call(*args: str, booted: str) -> str:
        cmdline.write_text(f"console=tty1 rauc.slot={booted} quiet\n")
        proc = subprocess.run(
            ["bash", str(backend), *args], env=env, check=False, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    assert call("get-primary", booted="A") == "A"
    call("set-state", "B", "bad", booted="A")  # RAUC marks the slot it writes bad first
    call("set-primary", "B", booted="A")
    assert call("get-primary", booted="A") == "B"
    assert (
        "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3"
        in autoboot.read_text()
    )
    # The trial boot hangs: the firmware boots [all] again, still A; nothing was committed.
    assert call("get-current", booted="A") == "A"
    # The trial boot works: mark-good on B commits it.
    assert call("get-current", booted="B") == "B"
    call("set-state", "B", "good", booted="B")
    assert "[all]\ntryboot_a_b=1\nboot_partition=3\n" in autoboot.read_text()
    assert call("get-state", "B", booted="B") == "good"
    assert call("get-primary", booted="B") == "B"


def test_arm64_run_is_its_own_target_and_its_selection_exists() -> None:
    """GIVEN the Makefile and image/test-arm64.sh THEN `make test-arm64` runs the script, `make test`
    does not reach it (tens of minutes under emulation), and every test path the script selects
    exists (a renamed test file would otherwise drop out of the aarch64 run unnoticed)."""
    makefile = (REPO / "Makefile").read_text()
    # target -> its prerequisites and recipe lines
    rules = {
        name: prereqs + recipe
        for name, prereqs, recipe in re.findall(r"^([\w-]+):([^=\n]*)\n((?:\t[^\n]*\n)*)", makefile, re.MULTILINE)
    }
    assert "image/test-arm64.sh" in rules["test-arm64"]
    assert "arm64" not in rules["test"]
    script = (IMAGE / "test-arm64.sh").read_text()
    block = re.search(r"^selection=\((.*?)^\)", script, re.MULTILINE | re.DOTALL)
    assert block, "no selection=( ... ) in image/test-arm64.sh"
    paths = block.group(1).split()
    assert len(paths) >= 10
    missing = [p for p in paths if not (REPO / p).exists()]
    assert not missing, missing


# ------------------------------------------------------------------ the maintenance menu's USB stick

STICK_RULES = SYSTEMD / "udev/71-kiosk-stick.rules"
STICK_UNITS = ("kiosk-stick@.service", "kiosk-stick-task@.service")


def block(fs: str, bus: str = "usb", usage: str = "filesystem", action: str = "add") -> dict[str, str]:
    return {"ACTION": action, "SUBSYSTEM": "block", "ENV{ID_BUS}": bus, "ENV{ID_FS_USAGE}": usage,
            "ENV{ID_FS_TYPE}": fs}


@pytest.mark.parametrize("device, mounted", [
    (block("vfat"), True), (block("exfat"), True), (block("ext4"), True),
    (block("vfat", bus="ata"), False),  # the SD card or a SATA disk: never
    (block("crypto_LUKS", usage="crypto"), False), (block("swap", usage="other"), False),
    (block("ntfs"), False), (block("vfat", action="remove"), False),
    ({**block("vfat"), "SUBSYSTEM": "usb"}, False),
])
def test_stick_rule_hands_a_usb_file_system_to_the_mount_unit(device: dict[str, str], mounted: bool) -> None:
    got = udev_result(STICK_RULES.read_text(), device)
    assert got == ({"ENV": "kiosk-stick@%k.service"} if mounted else {})
    assert "ENV{SYSTEMD_WANTS}+=\"kiosk-stick@%k.service\"" in STICK_RULES.read_text()


def test_stick_units_verify_and_the_mount_is_locked_down(tmp_path: Path) -> None:
    """GIVEN both templates as instances in a root THEN systemd-analyze verify is silent; the
    mount is nodev,nosuid,noexec, FAT owned by root:kiosk-data with nothing for others."""
    analyze = _need("systemd-analyze", "systemd")
    units = tmp_path / "usr/lib/systemd/system"
    shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    for name in STICK_UNITS:
        shutil.copy(SYSTEMD / name, units / name)
    for binary in ("opt/kiosk/venv/bin/kiosk", "usr/lib/kiosk/kiosk-stick"):
        exe = tmp_path / binary
        exe.parent.mkdir(parents=True, exist_ok=True)
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    proc = subprocess.run([analyze, "verify", f"--root={tmp_path}", "kiosk-stick@sda1.service",
                           "kiosk-stick-task@logs-export.service"], check=False, capture_output=True, text=True)
    # a template instance's device is not plugged here: only that may be said
    errors = [line for line in proc.stderr.splitlines() if "dev-sda1.device" not in line]
    assert not errors and proc.returncode == 0, proc.stderr
    script = (SYSTEMD / "stick/kiosk-stick").read_text()
    assert "opts=nodev,nosuid,noexec" in script and "gid=$gid,fmask=0117,dmask=0007" in script
    task = (SYSTEMD / "kiosk-stick-task@.service").read_text()
    assert re.search(r"(?m)^ExecStart=/opt/kiosk/venv/bin/kiosk stick run %i$", task)
    assert re.search(r"(?m)^IPAddressDeny=any$", task) and re.search(r"(?m)^ProtectSystem=strict$", task)
    mount = (SYSTEMD / "kiosk-stick@.service").read_text()
    assert re.search(r"(?m)^BindsTo=dev-%i\.device$", mount) and "ExecStop=" in mount
    from kiosk import schema

    default = next(k.default for k in schema.SCHEMA if k.name == "maintenance.stick_dir")
    assert f"Environment=KIOSK_STICK_DIR={default}" in mount and f"-{default}" in task


POLKIT_HARNESS = """
const fs = require("fs");
let rule = null;
const polkit = {Result: {YES: "yes", NO: "no", NOT_HANDLED: null}, addRule: (f) => { rule = f; }};
eval(fs.readFileSync(process.argv[2], "utf8"));
const asks = JSON.parse(process.argv[3]);
console.log(JSON.stringify(asks.map(([user, id, unit, verb]) => rule(
    {id: id, lookup: (k) => ({unit: unit, verb: verb})[k]}, {user: user}))));
"""


def test_polkit_lets_the_ui_start_the_stick_tasks_and_stop_a_stick_only(tmp_path: Path) -> None:
    """The rule, run in node with polkit's calling convention: user kiosk may start each task
    kiosk/services/stick.py knows and stop a stick's unit; nothing else, nobody else."""
    node = _need("node", "nodejs")
    from kiosk.services.stick import TASKS

    manage = "org.freedesktop.systemd1.manage-units"
    allowed = [["kiosk", manage, f"kiosk-stick-task@{t}.service", "start"] for t in TASKS]
    allowed.append(["kiosk", manage, "kiosk-stick@sda1.service", "stop"])
    refused = [["kiosk", manage, "kiosk-stick-task@logs-export.service", "stop"],
               ["kiosk", manage, "kiosk-stick-task@bash.service", "start"],
               ["kiosk", manage, "kiosk-stick@sda1.service", "start"],
               ["kiosk", manage, "kiosk-sync.service", "stop"],
               ["kiosk", manage, "kiosk-stick@../x.service", "stop"],
               ["kiosk-sync", manage, "kiosk-stick-task@logs-export.service", "start"],
               ["kiosk", "org.freedesktop.login1.reboot", "kiosk-stick@sda1.service", "stop"]]
    script = tmp_path / "harness.js"
    script.write_text(POLKIT_HARNESS)
    import json

    proc = subprocess.run([node, str(script), str(SYSTEMD / "polkit/50-kiosk-stick.rules"),
                           json.dumps(allowed + refused)], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == ["yes"] * len(allowed) + [None] * len(refused)


def test_the_install_script_installs_every_stick_file() -> None:
    install = (REPO / "scripts/appliance-install.sh").read_text()
    for src, dest in (("kiosk-stick@.service", "usr/lib/systemd/system/"),
                      ("kiosk-stick-task@.service", "usr/lib/systemd/system/"),
                      ("stick/kiosk-stick", "usr/lib/kiosk/kiosk-stick"),
                      ("udev/71-kiosk-stick.rules", "usr/lib/udev/rules.d/"),
                      ("polkit/50-kiosk-stick.rules", "etc/polkit-1/rules.d/")):
        assert re.search(rf"(?m)^put 0[67][45][45] +{re.escape(src)} +{re.escape(dest)}", install), src
