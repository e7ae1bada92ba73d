"""The data partition's encryption (issue 17 #6): image/files/kiosk-data-crypt run for real with
bash, against stand-ins for cryptsetup, blkid, dumpe2fs, mkfs.ext4 and rpi-otp-private-key that
keep their state in the "partition" file and record every call (argv and stdin). This machine has
no device-mapper: the real cryptsetup runs in the emulated boot of `make test-image`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.appliance.test_static import shell_scripts

REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "image/files"
SCRIPT = FILES / "kiosk-data-crypt"
UNIT = FILES / "kiosk-data-crypt.service"

# The stand-ins. A device file holds JSON ({"type": ..., ...}) or zeros (no signature); an
# opened container is a symlink in the mapper directory to "<partition>.inner".
FAKE_COMMON = """\
import json, os, sys
def log(stdin=b""):
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write(json.dumps({"prog": os.path.basename(sys.argv[0]), "argv": sys.argv[1:],
                            "stdin": stdin.hex()}) + "\\n")
def state(path):
    try:
        raw = open(path, "rb").read()
    except FileNotFoundError:
        return None
    return json.loads(raw) if raw.strip(b"\\0") else None
def save(path, st):
    with open(path, "w") as f:
        json.dump(st, f)
"""

FAKES = {
    "cryptsetup": """
args = sys.argv[1:]
cmd = args[0]
stdin = sys.stdin.buffer.read() if "--key-file=-" in args else b""
log(stdin)
dev = [a for a in args[1:] if not a.startswith("-")]
if cmd == "isLuks":
    st = state(args[-1])
    sys.exit(0 if st and st["type"] == "crypto_LUKS" else 1)
if cmd == "luksFormat":
    save(args[-1], {"type": "crypto_LUKS", "label": "", "key": stdin.hex()})
    open(args[-1] + ".inner", "wb").close()
    sys.exit(0)
if cmd == "open":
    path, name = args[-2], args[-1]
    if state(path)["key"] != stdin.hex():
        print("No key available with this passphrase.", file=sys.stderr)
        sys.exit(2)
    os.symlink(path + ".inner", os.path.join(os.environ["FAKE_MAPPER"], name))
    sys.exit(0)
if cmd == "config":
    st = state(args[-1])
    st["label"] = args[args.index("--label") + 1]
    save(args[-1], st)
    sys.exit(0)
sys.exit(99)
""",
    "blkid": """
log()
tag = sys.argv[sys.argv.index("-s") + 1]
st = state(sys.argv[-1])
if not st:
    # As the real blkid -p on a GPT partition with no file system: its partition entry answers
    # (PART_ENTRY_NAME=data ...), so exit 0 with no TYPE; the opened container is no partition.
    sys.exit(2 if os.path.realpath(sys.argv[-1]).endswith(".inner") else 0)
print(st.get(tag.lower(), ""))
""",
    "dumpe2fs": """
log()
st = state(sys.argv[-1])
print("Inode count:              1024")
print("Free inodes:              %d" % (1024 - st["inodes_used"]))
print("Last mount time:          %s" % st["last_mount"])
""",
    "mkfs.ext4": """
log()
save(sys.argv[-1], {"type": "ext4", "label": sys.argv[sys.argv.index("-L") + 1],
                    "inodes_used": 11, "last_mount": "n/a"})
""",
    "modprobe": "log()\n",
    "rpi-otp-private-key": """
log()
otp = os.environ["FAKE_OTP"]
if "-w" in sys.argv:
    if open(otp).read().strip("0\\n"):
        sys.exit("Current key is non-zero. Specify -f to write anyway")
    open(otp, "w").write(sys.argv[sys.argv.index("-w") + 1])
else:
    print(open(otp).read().strip())
""",
}

# The key disk's 32 bytes: a NUL, a newline and a backslash must reach cryptsetup unchanged.
KEY = bytes([0x00, 0x0A, 0x5C, 0xFF]) + bytes(range(0x40, 0x5C))


@dataclass
class Kiosk:
    """One kiosk: its data partition, key disk or OTP, and the calls the script made."""

    root: Path
    env: dict[str, str]
    otp: bool = False

    @property
    def part(self) -> Path:
        return self.root / "data-partition"

    @property
    def key_disk(self) -> Path:
        return self.root / "key-disk"

    @property
    def mapper(self) -> Path:
        return self.root / "mapper"

    def boot(self) -> subprocess.CompletedProcess[str]:
        """One boot: the mapper is empty (a reboot closes everything), the log starts afresh."""
        shutil.rmtree(self.mapper, ignore_errors=True)
        self.mapper.mkdir()
        Path(self.env["FAKE_LOG"]).write_text("")
        return subprocess.run(["bash", str(SCRIPT)], env=self.env, capture_output=True, text=True, check=False)

    def calls(self, prog: str | None = None) -> list[dict[str, Any]]:
        lines = Path(self.env["FAKE_LOG"]).read_text().splitlines()
        found = [json.loads(line) for line in lines]
        return [c for c in found if prog is None or c["prog"] == prog]

    def crypt(self, cmd: str) -> list[dict[str, Any]]:
        return [c for c in self.calls("cryptsetup") if c["argv"][0] == cmd]

    def formatted(self) -> bool:
        return bool(self.crypt("luksFormat") or self.calls("mkfs.ext4"))


def make_kiosk(tmp_path: Path, *, otp: str | None = None, key_disk: bytes | None = KEY) -> Kiosk:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, body in FAKES.items():
        if name == "rpi-otp-private-key" and otp is None:
            continue  # not a Pi: the tool is not installed
        exe = bindir / name
        exe.write_text(f"#!{sys.executable} -S\n{FAKE_COMMON}{body}")
        exe.chmod(0o755)
    env = {
        "PATH": f"{bindir}:/usr/bin:/bin",
        "FAKE_LOG": str(tmp_path / "calls.jsonl"),
        "FAKE_MAPPER": str(tmp_path / "mapper"),
        "KIOSK_DATA_DEVICE": str(tmp_path / "data-partition"),
        "KIOSK_DATA_MAPPER_DIR": str(tmp_path / "mapper"),
        "KIOSK_DATA_KEY_DISK": str(tmp_path / "key-disk"),
        "KIOSK_DATA_KEY_WAIT": "0",
    }
    kiosk = Kiosk(tmp_path, env)
    kiosk.part.write_bytes(bytes(4096))  # as the image ships it: zeros
    if otp is not None:
        env["FAKE_OTP"] = str(tmp_path / "otp")
        (tmp_path / "otp").write_text(otp + "\n")
    if key_disk is not None:
        kiosk.key_disk.write_bytes(key_disk + bytes(1024))
    return kiosk


def test_first_boot_formats_luks2_pbkdf2_with_the_key_on_stdin(tmp_path: Path) -> None:
    """GIVEN a blank partition and the key disk WHEN the kiosk boots THEN the partition is
    formatted LUKS2 with PBKDF2, the key (the disk's first 32 bytes) given on stdin only, opened
    as kioskdata, an ext4 labelled KIOSKDATA made inside, and the container marked ready."""
    kiosk = make_kiosk(tmp_path)
    proc = kiosk.boot()
    assert proc.returncode == 0, proc.stderr
    (fmt,) = kiosk.crypt("luksFormat")
    argv = fmt["argv"]
    assert argv[argv.index("--type") + 1] == "luks2"
    assert argv[argv.index("--pbkdf") + 1] == "pbkdf2"
    assert "--key-file=-" in argv and argv[-1] == str(kiosk.part)
    assert fmt["stdin"] == KEY.hex()
    (opened,) = kiosk.crypt("open")
    assert opened["stdin"] == KEY.hex() and opened["argv"][-1] == "kioskdata"
    (mkfs,) = kiosk.calls("mkfs.ext4")
    assert mkfs["argv"] == ["-q", "-L", "KIOSKDATA", str(kiosk.mapper / "kioskdata")]
    assert json.loads(kiosk.part.read_text())["label"] == "kiosk-data-ready"
    for call in kiosk.calls():  # never on a command line, in hex or otherwise
        assert not any(KEY.hex() in a or KEY[4:].decode() in a for a in call["argv"])


def test_second_boot_only_opens(tmp_path: Path) -> None:
    kiosk = make_kiosk(tmp_path)
    assert kiosk.boot().returncode == 0
    proc = kiosk.boot()
    assert proc.returncode == 0, proc.stderr
    assert not kiosk.formatted()
    (opened,) = kiosk.crypt("open")
    assert opened["stdin"] == KEY.hex()


def test_a_wrong_key_fails_and_formats_nothing(tmp_path: Path) -> None:
    """GIVEN an encrypted partition WHEN another key comes (the card in another kiosk) THEN the
    boot of /data fails and the partition is not formatted again."""
    kiosk = make_kiosk(tmp_path)
    assert kiosk.boot().returncode == 0
    kiosk.key_disk.write_bytes(bytes(reversed(KEY)))
    before = kiosk.part.read_bytes()
    proc = kiosk.boot()
    assert proc.returncode != 0
    assert "does not open" in proc.stderr and "Not formatting" in proc.stderr
    assert not kiosk.formatted() and kiosk.part.read_bytes() == before


@pytest.mark.parametrize(
    ("inodes_used", "last_mount", "formats"),
    [
        (40, "Tue Dec  1 08:00:00 2026", False),  # a kiosk's data: refused
        (11, "Tue Dec  1 08:00:00 2026", False),  # mounted once: may have held data, refused
        (14, "n/a", False),  # never mounted, yet files in it (mke2fs -d): refused
        (11, "n/a", True),  # an older image's empty, never mounted ext4: encrypted
    ],
)
def test_an_ext4_with_data_is_not_formatted(tmp_path: Path, inodes_used: int, last_mount: str, formats: bool) -> None:
    kiosk = make_kiosk(tmp_path)
    ext4 = {"type": "ext4", "label": "KIOSKDATA", "inodes_used": inodes_used, "last_mount": last_mount}
    kiosk.part.write_text(json.dumps(ext4))
    proc = kiosk.boot()
    assert (proc.returncode == 0) is formats, proc.stderr
    assert kiosk.formatted() is formats
    if not formats:
        assert json.loads(kiosk.part.read_text()) == ext4
        assert "not formatting it" in proc.stderr and "wipefs -a" in proc.stderr


def test_another_signature_is_not_formatted(tmp_path: Path) -> None:
    kiosk = make_kiosk(tmp_path)
    kiosk.part.write_text(json.dumps({"type": "vfat", "label": "STICK"}))
    assert kiosk.boot().returncode != 0
    assert not kiosk.formatted()


def test_data_blkid_does_not_recognise_is_not_formatted(tmp_path: Path) -> None:
    """GIVEN a partition blkid finds no file system on (it answers with the GPT entry alone) but
    whose start is not zeros THEN it is not formatted: only the blank partition the image ships is."""
    kiosk = make_kiosk(tmp_path)
    kiosk.part.write_text(json.dumps({"type": ""}))
    proc = kiosk.boot()
    assert proc.returncode != 0 and "does not recognise" in proc.stderr + proc.stdout
    assert not kiosk.formatted()


def test_no_key_source_fails_with_nothing_formatted(tmp_path: Path) -> None:
    """GIVEN no rpi-otp-private-key and no key disk THEN exit non-zero with a clear message,
    nothing formatted, nothing opened (so nothing can be mounted on /data)."""
    kiosk = make_kiosk(tmp_path, key_disk=None)
    proc = kiosk.boot()
    assert proc.returncode != 0
    assert "no key source" in proc.stderr and "nothing is mounted" in proc.stderr
    assert not kiosk.calls("cryptsetup") and not kiosk.formatted()
    assert not any(kiosk.mapper.iterdir())


def test_all_zero_otp_is_programmed_first_and_used(tmp_path: Path) -> None:
    """GIVEN a Pi whose OTP private key was never set (and no key disk) WHEN it boots first THEN
    a random key is programmed with rpi-otp-private-key -w, read back, and that key (its 32
    bytes, on stdin) encrypts the partition; the next boot opens it with the same key."""
    kiosk = make_kiosk(tmp_path, otp="0" * 64, key_disk=None)
    proc = kiosk.boot()
    assert proc.returncode == 0, proc.stderr
    programmed = (tmp_path / "otp").read_text().strip()
    assert len(programmed) == 64 and programmed != "0" * 64
    writes = [c for c in kiosk.calls("rpi-otp-private-key") if "-w" in c["argv"]]
    assert len(writes) == 1
    (fmt,) = kiosk.crypt("luksFormat")
    assert fmt["stdin"] == programmed
    assert kiosk.boot().returncode == 0
    assert not kiosk.formatted()
    assert not [c for c in kiosk.calls("rpi-otp-private-key") if "-w" in c["argv"]]
    (opened,) = kiosk.crypt("open")
    assert opened["stdin"] == programmed


def test_a_set_otp_is_used_as_it_is(tmp_path: Path) -> None:
    otp = KEY.hex()
    kiosk = make_kiosk(tmp_path, otp=otp.upper(), key_disk=None)
    assert kiosk.boot().returncode == 0
    assert not [c for c in kiosk.calls("rpi-otp-private-key") if "-w" in c["argv"]]
    assert kiosk.crypt("luksFormat")[0]["stdin"] == otp


def test_a_blank_key_disk_gets_a_random_key_once(tmp_path: Path) -> None:
    kiosk = make_kiosk(tmp_path, key_disk=bytes(32))
    assert kiosk.boot().returncode == 0
    key = kiosk.key_disk.read_bytes()[:32]
    assert key != bytes(32) and len(kiosk.key_disk.read_bytes()) == 32 + 1024
    assert kiosk.crypt("luksFormat")[0]["stdin"] == key.hex()
    assert kiosk.boot().returncode == 0 and kiosk.key_disk.read_bytes()[:32] == key


def test_a_blank_key_never_reprograms_for_an_encrypted_partition(tmp_path: Path) -> None:
    """GIVEN an encrypted partition and a blank key source (another board) THEN nothing is
    programmed (OTP is permanent) and nothing formatted."""
    kiosk = make_kiosk(tmp_path)
    assert kiosk.boot().returncode == 0
    kiosk.key_disk.write_bytes(bytes(64))
    proc = kiosk.boot()
    assert proc.returncode != 0 and "blank" in proc.stderr
    assert kiosk.key_disk.read_bytes() == bytes(64) and not kiosk.formatted()


def test_interrupted_first_boot_makes_the_file_system_damage_is_left_alone(tmp_path: Path) -> None:
    """A power cut between luksFormat and mkfs: the container is not marked ready, so the next
    boot makes the file system. Once marked ready, a missing file system is damage: no mkfs."""
    kiosk = make_kiosk(tmp_path)
    assert kiosk.boot().returncode == 0
    inner = Path(f"{kiosk.part}.inner")
    inner.write_bytes(bytes(4096))  # the file system is gone
    proc = kiosk.boot()
    assert proc.returncode != 0 and "damaged" in proc.stderr
    assert not kiosk.calls("mkfs.ext4")
    st = json.loads(kiosk.part.read_text())
    kiosk.part.write_text(json.dumps({**st, "label": ""}))  # as luksFormat left it
    assert kiosk.boot().returncode == 0
    assert len(kiosk.calls("mkfs.ext4")) == 1 and not kiosk.crypt("luksFormat")


def test_script_is_shellchecked() -> None:
    assert SCRIPT in shell_scripts()
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        pytest.skip("shellcheck not installed")
    proc = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


def test_unit_verifies_and_fstab_requires_it(tmp_path: Path) -> None:
    """The unit parses (systemd-analyze verify against a root with the host's units), and the
    /data line mounts only the opened container and requires the unit; the hook installs both."""
    fstab = [
        line.split()
        for line in (FILES / "fstab.kiosk").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    (data,) = [f for f in fstab if f[1] == "/data"]
    assert data[0] == "/dev/mapper/kioskdata" and data[2] == "ext4"
    assert "x-systemd.requires=kiosk-data-crypt.service" in data[3].split(",")
    hook = (REPO / "image/hooks/kiosk-customize.sh").read_text()
    assert "/usr/lib/kiosk/kiosk-data-crypt" in hook and "kiosk-data-crypt.service" in hook
    assert "ExecStart=/usr/lib/kiosk/kiosk-data-crypt" in UNIT.read_text()
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze not installed")
    units = tmp_path / "usr/lib/systemd/system"
    shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    shutil.copy(UNIT, units)
    exe = tmp_path / "usr/lib/kiosk/kiosk-data-crypt"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    proc = subprocess.run(
        [analyze, "verify", f"--root={tmp_path}", "kiosk-data-crypt.service"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )
    assert proc.stderr == "" and proc.returncode == 0, proc.stderr
