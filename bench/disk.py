"""Where durable-write figures are measured: a directory on a real disk, never tmpfs.

An fdatasync on tmpfs returns at once, so a "durable" rate measured there is a memory rate.
/tmp is tmpfs on many machines (Debian 13, Fedora, Arch), so the bench writes under the
repository's out/bench (or /var/tmp) and refuses a directory whose file system is in memory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEMORY_FS = frozenset({"tmpfs", "ramfs", "devtmpfs", "hugetlbfs"})
CANDIDATES = (ROOT / "out" / "bench", Path("/var/tmp"))


class NotOnDisk(RuntimeError):
    """No disk-backed directory to measure durable writes in."""


def fs_type(path: Path) -> str:
    """The file system type of the mount holding path (longest mount point prefix wins)."""
    real = os.path.realpath(path)
    best, kind = "", "unknown"
    with open("/proc/mounts", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) < 3:
                continue
            mount = fields[1].replace("\\040", " ")
            inside = real == mount or real.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best):
                best, kind = mount, fields[2]
    return kind


def on_disk(path: Path) -> bool:
    return fs_type(path) not in MEMORY_FS


@contextlib.contextmanager
def durable_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory on the first disk-backed candidate, removed afterwards."""
    for base in CANDIDATES:
        try:
            base.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if on_disk(base) and os.access(base, os.W_OK):
            work = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
            try:
                yield work
            finally:
                shutil.rmtree(work, ignore_errors=True)
            return
    tried = ", ".join(f"{b} ({fs_type(b) if b.exists() else 'missing'})" for b in CANDIDATES)
    raise NotOnDisk(f"no disk-backed directory for durable writes; tried {tried}")
