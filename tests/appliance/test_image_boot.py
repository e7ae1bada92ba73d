"""The pieces of `make test-image` that run in seconds, so `make test` keeps them honest: the
bundle hook that points a boot slot at its own system slot, the harness's part of the Pi
firmware (which slot autoboot.txt starts, how a boot ended), and its way of reading and changing
partitions inside a disk image without mounting anything. The emulated boots themselves run in
`make test-image` (image/boot_image.py)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE = REPO / "image"
CMDLINE = "root=PARTLABEL=system_a rootwait ro rauc.slot=A consoleblank=0 quiet overlayroot=tmpfs:recurse=0\n"


def _harness():
    spec = importlib.util.spec_from_file_location("boot_image", IMAGE / "boot_image.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("boot_image", module)   # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _hook(tmp_path: Path, slot_name: str, slot_class: str = "boot", event: str = "slot-post-install"):
    env = {"PATH": os.environ["PATH"], "RAUC_SLOT_NAME": slot_name, "RAUC_SLOT_CLASS": slot_class,
           "RAUC_SLOT_MOUNT_POINT": str(tmp_path)}
    return subprocess.run(["bash", str(IMAGE / "rauc/bundle-hook.sh"), event], env=env,
                          capture_output=True, text=True, check=False)


@pytest.mark.parametrize(("slot_name", "root", "slot"), [("boot.1", "system_b", "B"), ("boot.0", "system_a", "A")])
def test_bundle_hook_points_the_written_boot_slot_at_its_own_system_slot(tmp_path, slot_name, root, slot):
    """GIVEN a bundle's boot image (its cmdline.txt names slot A) written into boot.0 or boot.1
    WHEN RAUC calls the hook after writing THEN cmdline.txt starts that slot's system partition and
    names the slot for RAUC and the tryboot backend; the rest of the line is kept."""
    (tmp_path / "cmdline.txt").write_text(CMDLINE)
    done = _hook(tmp_path, slot_name)
    assert done.returncode == 0, done.stderr
    line = (tmp_path / "cmdline.txt").read_text()
    assert f"root=PARTLABEL={root} " in line and f"rauc.slot={slot} " in line
    assert line.replace(root, "system_a").replace(f"rauc.slot={slot}", "rauc.slot=A") == CMDLINE


def test_bundle_hook_leaves_other_slots_and_refuses_an_unknown_boot_slot(tmp_path):
    (tmp_path / "cmdline.txt").write_text(CMDLINE)
    assert _hook(tmp_path, "rootfs.1", slot_class="rootfs").returncode == 0
    assert _hook(tmp_path, "boot.1", event="slot-pre-install").returncode == 0
    assert (tmp_path / "cmdline.txt").read_text() == CMDLINE
    refused = _hook(tmp_path, "boot.7")
    assert refused.returncode != 0 and "unknown boot slot" in refused.stderr
    (tmp_path / "cmdline.txt").write_text("root=/dev/mmcblk0p2 quiet\n")   # names no slot: refused
    assert _hook(tmp_path, "boot.1").returncode != 0
    assert (tmp_path / "cmdline.txt").read_text() == "root=/dev/mmcblk0p2 quiet\n"


def test_the_harness_plays_the_firmware_tryboot_lasts_one_boot():
    """GIVEN autoboot.txt with A committed and B on trial THEN only a boot after `reboot "0
    tryboot"` starts B; the kernel's last line on the console says how a boot ended."""
    h = _harness()
    trial = {"all": 2, "tryboot": 3}
    assert h.choose_partition(trial, tryboot=False) == 2
    assert h.choose_partition(trial, tryboot=True) == 3
    assert h.choose_partition({"all": 3}, tryboot=True) == 3
    assert h.ending_of("...\n[  512.1] reboot: Restarting system with command '0 tryboot'\n") == "tryboot"
    assert h.ending_of("[  90.0] reboot: Restarting system\n") == "reboot"
    assert h.ending_of("[  90.0] reboot: Power down\n") == "poweroff"
    assert h.ending_of("[  90.0] Kernel panic - not syncing: VFS\n") == "unknown"


def test_the_harness_judges_each_boot_by_slot_ending_and_checks():
    h = _harness()
    ok = h.Boot("first", 2, 300.0, "poweroff", ["KIT first PASS ui_active kiosk.service active",
                                                 "KIT first INFO done failed=0"], Path("x"))
    assert h.judge(ok, "A", "poweroff", ["ui_active"]) == []
    assert h.judge(ok, "B", "poweroff", ["ui_active"])          # the wrong slot started
    assert h.judge(ok, "A", "tryboot", ["ui_active"])           # it should have rebooted to try
    assert h.judge(ok, "A", "poweroff", ["ui_drew"])            # a check that never ran
    failed = h.Boot("first", 2, 300.0, "poweroff", ["KIT first FAIL ui_drew rc=1 status ''"], Path("x"))
    assert any("FAIL ui_drew" in p for p in h.judge(failed, "A", "poweroff", []))


def _tools(*names: str) -> None:
    for name in names:
        if not shutil.which(name):
            pytest.skip(f"{name} not installed (scripts/bootstrap.sh installs it)")


def test_the_harness_reads_autoboot_and_adds_its_unit_without_mounting(tmp_path, monkeypatch):
    """GIVEN a GPT disk image laid out as build-image-arm64.sh lays it out (a FAT config partition
    with autoboot.txt, an ext4 system slot) WHEN the harness reads autoboot.txt and adds its test
    unit THEN it finds the committed and trial slots, and the unit is in the system slot, enabled,
    with the dummy display drop-in; nothing was mounted."""
    _tools("sfdisk", "mkfs.vfat", "mcopy", "mtype", "mke2fs", "debugfs")
    h = _harness()
    monkeypatch.setattr(h, "WORK", tmp_path)
    root = tmp_path / "root"
    (root / "etc/systemd/system/multi-user.target.wants").mkdir(parents=True)
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(root), str(tmp_path / "sys.ext4"), "8M"], check=True)
    (tmp_path / "autoboot.txt").write_text("[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n")
    subprocess.run(["mkfs.vfat", "-C", str(tmp_path / "cfg.vfat"), "2048"], check=True, capture_output=True)
    subprocess.run(["mcopy", "-i", str(tmp_path / "cfg.vfat"), str(tmp_path / "autoboot.txt"), "::/"], check=True)
    disk = tmp_path / "disk.img"
    subprocess.run(["truncate", "-s", "24M", str(disk)], check=True)
    layout = "label: gpt\n" + "".join(f"size={s}MiB, name={n}\n" for n, s in
                                      [("config", 3), ("boot_a", 1), ("boot_b", 1), ("system_a", 9)])
    subprocess.run(["sfdisk", "--quiet", str(disk)], input=layout, text=True, check=True)
    d = h.Disk(disk)
    for part, image in ((1, "cfg.vfat"), (4, "sys.ext4")):
        subprocess.run(["dd", f"if={tmp_path / image}", f"of={disk}", "bs=512", f"seek={d.starts[part] // 512}",
                        "conv=notrunc", "status=none"], check=True)
    assert h.autoboot(d) == {"all": 2, "tryboot": 3}
    d.debugfs_write(4, h._inject_commands())
    unit = h.ext4_cat(d.ext4(4), h.TEST_UNIT)
    assert "cp /run/kiosk-test/guest-test.sh" in unit and "ExecStart=/bin/bash /run/kiosk-guest-test.sh" in unit
    wants = subprocess.run(["debugfs", "-R", "stat /etc/systemd/system/multi-user.target.wants/kiosk-image-test.service",
                            d.ext4(4)], capture_output=True, text=True, check=True).stdout
    assert "Type: symlink" in wants and h.TEST_UNIT in wants
    assert "SDL_VIDEODRIVER=dummy" in h.ext4_cat(d.ext4(4), "/etc/systemd/system/kiosk.service.d/image-test.conf")
    assert "TimeoutStartSec" in h.ext4_cat(d.ext4(4), "/etc/systemd/system/kiosk-sync.service.d/image-test.conf")


def test_the_kiosk_looks_for_its_models_where_the_image_puts_them():
    """The image's hook installs the face models in one folder; liveness on the image finds them
    there with no setting (found by the first emulated boot's design: nothing pointed there)."""
    import re

    from kiosk.liveness import models

    hook = (IMAGE / "hooks/kiosk-customize.sh").read_text()
    (folder,) = set(re.findall(r'"\$root(/[\w/]+/models)/?"', hook))
    assert Path(folder) in models.search_dirs(None) or os.environ.get("KIOSK_LIVENESS_MODEL_DIR")


def test_mark_good_waits_for_both_units_instead_of_requiring_their_first_start():
    """A trial slot whose UI or sync daemon failed its first start and came back (Restart=always)
    must still be marked good: Requires= would fail mark-good for the whole boot, and the next
    reboot would drop a working update. It waits (bounded) until both are active."""
    import configparser

    conf = configparser.ConfigParser(strict=False, interpolation=None)
    conf.read(IMAGE / "files/rauc-mark-good.conf")
    assert "Requires" not in conf["Unit"]
    assert {"kiosk.service", "kiosk-sync.service"} <= set(conf["Unit"]["After"].split())
    # In the background of the boot (a oneshot that waits would hold multi-user.target), bounded.
    assert conf["Service"]["Type"] == "exec" and conf["Service"]["RemainAfterExit"] == "yes"
    wait = conf["Service"]["ExecStart"].strip().splitlines()[-1]
    assert "is-active -q kiosk.service" in wait and "is-active -q kiosk-sync.service" in wait
    assert "timeout " in wait and wait.endswith("&& exec /usr/bin/rauc status mark-good'")
