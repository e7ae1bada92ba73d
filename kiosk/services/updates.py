"""An update from a USB stick: find the one RAUC bundle (*.raucb) on it and hand it to
`rauc install` (image/rauc/system.conf: signed verity bundles, A/B slots, the Pi's tryboot).
RAUC checks the signature against /etc/rauc/keyring.pem and writes the other slot; the kiosk
only picks the file and says plainly what happened. Where rauc is not installed (a development
machine, the test machine) nothing is attempted."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".raucb"
REBOOT_HINT = 'systemctl reboot "0 tryboot"'


class NoBundle(Exception):
    """The stick holds no bundle, or more than one: nothing was installed."""


class NoRauc(Exception):
    """rauc is not installed on this machine: nothing was attempted."""


class RaucRefused(Exception):
    """rauc ran and refused or failed (a bad signature, another device's bundle, a write error)."""


@dataclass(frozen=True)
class Installed:
    bundle: Path
    output: str


def find_bundle(stick: Path) -> Path:
    """The one *.raucb file at the top of the stick (hidden files, such as the ._ files macOS
    leaves, are not bundles)."""
    stick = Path(stick)
    if not stick.is_dir():
        raise NoBundle(f"{stick} is not a directory (is the stick mounted?)")
    found = sorted(p for p in stick.iterdir()
                   if p.name.endswith(SUFFIX) and not p.name.startswith(".") and p.is_file())
    if not found:
        raise NoBundle(f"no update bundle (*{SUFFIX}) in {stick}")
    if len(found) > 1:
        raise NoBundle(f"{len(found)} update bundles in {stick} ({', '.join(p.name for p in found)}): "
                       "leave only the one to install")
    if found[0].stat().st_size == 0:
        raise NoBundle(f"{found[0].name} is empty (copied halfway?)")
    return found[0]


def install(bundle: Path, timeout_s: float = 3600) -> Installed:
    """rauc install BUNDLE; its output is returned (or carried by RaucRefused)."""
    exe = shutil.which("rauc")
    if exe is None:
        raise NoRauc("rauc is not installed on this machine (the kiosk image carries it): "
                     "nothing was installed")
    proc = subprocess.run([exe, "install", str(Path(bundle).resolve())], capture_output=True, text=True,
                          errors="replace", timeout=timeout_s, check=False)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        last = output.splitlines()[-1] if output else "no message"
        raise RaucRefused(f"rauc refused the bundle (exit {proc.returncode}): {last[:400]}")
    return Installed(Path(bundle), output)
