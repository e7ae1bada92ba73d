"""The boot test's root file system: a cached Debian rootfs with the kiosk venv, and a per-run
overlay on top of it, so a run costs seconds once the cache is warm.

Layers under the cache folder (default /var/cache/kiosk-appliance, KIOSK_APPLIANCE_CACHE):
  base-<hash>   mmdebstrap minbase + rootfs-packages.txt        key: package list, suite, arch
  venv-<hash>   base + /opt/kiosk/venv with every dependency     key: base + dependency wheels
                (built by scripts/appliance-venv.sh, the same script as the image)
  run/<id>      overlayfs (upper in the run folder) where this run installs the freshly built
                wheel, the units (scripts/appliance-install.sh) and its test drop-ins.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PACKAGES_FILE = HERE / "rootfs-packages.txt"
SUITE = "bookworm"
VENV = "/opt/kiosk/venv"
MIRROR = os.environ.get("KIOSK_APPLIANCE_MIRROR", "")  # empty: the host's apt sources


def cache_dir() -> Path:
    return Path(os.environ.get("KIOSK_APPLIANCE_CACHE", "/var/cache/kiosk-appliance"))


@dataclass
class Timings:
    """Seconds per step, printed in the test report and the closing note of a run."""

    steps: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.steps[name] = round(time.monotonic() - start, 1)

    def __str__(self) -> str:
        return " ".join(f"{k}={v}s" for k, v in self.steps.items())


def packages() -> list[str]:
    lines = PACKAGES_FILE.read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    """Run a build command; on failure raise with its output, which pytest then shows."""
    proc = subprocess.run(cmd, check=False, text=True, capture_output=True, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time per cache (two `make test` runs may share it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build_once(target: Path, build: Callable[[Path], None]) -> bool:
    """Build into a temporary sibling and rename: a cache entry is complete or absent."""
    with _locked(target.parent / ".lock"):
        if target.is_dir():
            return False
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            build(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        tmp.rename(target)
        return True


def base_rootfs(timings: Timings) -> Path:
    pkgs = packages()
    key = _digest(SUITE, os.uname().machine, ",".join(pkgs), MIRROR)
    target = cache_dir() / f"base-{key}"

    def build(tmp: Path) -> None:
        cmd = [
            "mmdebstrap",
            "--variant=minbase",
            "--quiet",
            f"--include={','.join(pkgs)}",
            SUITE,
            str(tmp),
        ]
        if MIRROR:
            cmd.append(MIRROR)
        run(cmd)

    with timings.step("mmdebstrap"):
        built = _build_once(target, build)
    if not built:
        timings.steps.pop("mmdebstrap")
    return target


def debian_constraints(base: Path) -> str:
    """The rootfs's own pins (numpy==Debian's), from its dpkg, by the image's script (fed on
    stdin: the cached layer stays read-only)."""
    script = REPO / "scripts" / "appliance-venv.sh"
    cmd = nspawn_cmd(base, "bash", "-s", "--", "--print-constraints")
    return run([*cmd[:1], "--read-only", *cmd[1:]], input=script.read_text()).stdout


def build_wheels(out: Path, constraints: str, timings: Timings) -> tuple[Path, list[Path]]:
    """The kiosk wheel from the working tree, and its dependencies as wheels resolved under the
    rootfs's Debian pins, so the offline install inside cannot hit a conflict (pip's cache makes
    this a few seconds). Returns (kiosk wheel, dependency wheels)."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    (out / "constraints.txt").parent.mkdir(parents=True, exist_ok=True)
    (out / "constraints.txt").write_text(constraints)
    with timings.step("wheels"):
        run(
            [*pip, "wheel", "--no-deps", "-w", str(out / "dist"), str(REPO)],
            cwd=tempfile.gettempdir(),
        )
        kiosk_whl = next((out / "dist").glob("ssc_kiosk-*.whl"))
        run(
            [
                *pip,
                "wheel",
                "-w",
                str(out / "wheels"),
                "-c",
                str(out / "constraints.txt"),
                str(kiosk_whl),
            ]
        )
    deps = sorted(p for p in (out / "wheels").glob("*.whl") if not p.name.startswith("ssc_kiosk-"))
    return kiosk_whl, deps


def nspawn_cmd(root: Path, *args: str, binds: dict[Path, str] | None = None) -> list[str]:
    """A one-shot command in ROOT (not booted), with host folders bind-mounted read-only."""
    cmd = ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--pipe", "-D", str(root)]
    for host, inside in (binds or {}).items():
        cmd.append(f"--bind-ro={host}:{inside}")
    return [*cmd, *args]


def venv_rootfs(base: Path, deps: list[Path], timings: Timings) -> Path:
    script = REPO / "scripts" / "appliance-venv.sh"
    key = _digest(base.name, *(p.name for p in deps), script.read_bytes())
    target = cache_dir() / f"venv-{key}"
    wheelhouse = deps[0].parent

    def build(tmp: Path) -> None:
        run(["cp", "-a", "--reflink=auto", str(base), str(tmp)])
        names = sorted({p.name.split("-")[0].replace("_", "-") for p in deps})
        run(
            nspawn_cmd(
                tmp,
                "/mnt/scripts/appliance-venv.sh",
                VENV,
                "/mnt/wheels",
                *names,
                binds={wheelhouse: "/mnt/wheels", script.parent: "/mnt/scripts"},
            )
        )

    with timings.step("venv"):
        built = _build_once(target, build)
    if not built:
        timings.steps.pop("venv")
    return target


@contextlib.contextmanager
def overlay(lower: Path, workdir: Path) -> Iterator[Path]:
    """A writable root for one run on top of a cached layer; gone when the run ends."""
    upper, work, merged = workdir / "upper", workdir / "work", workdir / "root"
    for d in (upper, work, merged):
        d.mkdir(parents=True, exist_ok=True)
    run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={lower},upperdir={upper},workdir={work}",
            str(merged),
        ]
    )
    try:
        yield merged
    finally:
        subprocess.run(["umount", "--lazy", str(merged)], check=False, capture_output=True)


def gc(keep: list[Path], max_age_days: float = 7) -> None:
    """Mark KEEP as used; drop layers no run has used for a week (old package lists, old
    dependency sets). Never a layer another run may be using right now."""
    now = time.time()
    for entry in keep:
        os.utime(entry)
    for entry in cache_dir().glob("*-*"):
        if (
            entry.is_dir()
            and entry not in keep
            and entry.name.split("-")[0] in ("base", "venv")
            and not entry.name.endswith(".tmp")
            and now - entry.stat().st_mtime > max_age_days * 86400
        ):
            shutil.rmtree(entry, ignore_errors=True)
