"""A FUSE file system that loses power: it keeps everything written since the last fsync in memory
and throws it away at the cut (the LazyFS idea, for one directory, in Python over libfuse3).

Model, per file: `data` is what readers see, `durable` what an fsync last made safe. Names
(create, unlink, rename) are journalled in order, like ext4's metadata: any fsync or fsyncdir makes
the whole current name space durable, but only the synced file's bytes. At the cut every file
falls back to its durable bytes, files created since the last durable name space vanish, and
every operation fails with EIO until the mount is replaced (the kernel's page cache of the dead
mount goes with it).

The server runs in a process of its own (`PowerFS.start`), driven through a pipe: cut, remount,
stop. The mount is a normal page-cache FUSE mount (no direct_io), so SQLite can mmap the WAL's
shared-memory file (-shm) on it.
"""

from __future__ import annotations

import errno
import multiprocessing as mp
import os
import stat
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class _Node:
    mode: int
    data: bytearray = field(default_factory=bytearray)
    durable: bytes = b""
    mtime_ns: int = field(default_factory=time.time_ns)


def _make_ops() -> Any:
    import mfusepy as fuse

    class Ops(fuse.Operations):
        use_ns = True

        def __init__(self) -> None:
            self._mu = threading.RLock()  # not "lock": that name is a FUSE operation
            self.tree: dict[str, _Node] = {"/": _Node(stat.S_IFDIR | 0o755)}
            self.durable_tree = dict(self.tree)
            self.dead = False
            self.stats = {"fsync": 0, "fsyncdir": 0, "writes": 0, "cuts": 0, "lost_bytes": 0,
                          "lost_names": 0, "mmap_shm_writes": 0}

        # --- power ----------------------------------------------------------------------
        def cut(self) -> dict[str, int]:
            with self._mu:
                self.dead = True
                lost = 0
                for node in self.tree.values():
                    if stat.S_ISREG(node.mode) and bytes(node.data) != node.durable:
                        lost += abs(len(node.data) - len(node.durable)) or 1
                for node in self.durable_tree.values():
                    node.data = bytearray(node.durable)
                self.stats["lost_names"] += len(set(self.tree) ^ set(self.durable_tree))
                self.tree = dict(self.durable_tree)
                self.stats["cuts"] += 1
                self.stats["lost_bytes"] += lost
                return dict(self.stats)

        def revive(self) -> None:
            with self._mu:
                self.dead = False

        def _alive(self) -> None:
            if self.dead:
                raise fuse.FuseOSError(errno.EIO)

        def _node(self, path: str) -> _Node:
            node = self.tree.get(path)
            if node is None:
                raise fuse.FuseOSError(errno.ENOENT)
            return node

        def _journal(self) -> None:
            self.durable_tree = dict(self.tree)

        # --- name space -------------------------------------------------------------------
        def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
            with self._mu:
                self._alive()
                node = self._node(path)
                size = len(node.data) if stat.S_ISREG(node.mode) else 4096
                return {"st_mode": node.mode, "st_nlink": 2 if stat.S_ISDIR(node.mode) else 1,
                        "st_size": size, "st_uid": os.getuid(), "st_gid": os.getgid(),
                        "st_mtime": node.mtime_ns, "st_ctime": node.mtime_ns,
                        "st_atime": node.mtime_ns, "st_blocks": (size + 511) // 512}

        def readdir(self, path: str, fh: Any) -> list[str]:
            with self._mu:
                self._alive()
                prefix = path.rstrip("/") + "/"
                names = [p[len(prefix):] for p in self.tree
                         if p != "/" and p.startswith(prefix) and "/" not in p[len(prefix):]]
                return [".", "..", *names]

        def mkdir(self, path: str, mode: int) -> int:
            with self._mu:
                self._alive()
                if path in self.tree:
                    raise fuse.FuseOSError(errno.EEXIST)
                self.tree[path] = _Node(stat.S_IFDIR | mode)
                return 0

        def rmdir(self, path: str) -> int:
            with self._mu:
                self._alive()
                if any(p.startswith(path + "/") for p in self.tree):
                    raise fuse.FuseOSError(errno.ENOTEMPTY)
                self._node(path)
                del self.tree[path]
                return 0

        def create(self, path: str, mode: int, fi: Any = None) -> int:
            with self._mu:
                self._alive()
                if path not in self.tree:
                    self.tree[path] = _Node(stat.S_IFREG | (mode & 0o7777))
                return 0

        def open(self, path: str, flags: int) -> int:
            with self._mu:
                self._alive()
                node = self._node(path)
                if flags & os.O_TRUNC:
                    node.data = bytearray()
                return 0

        def unlink(self, path: str) -> int:
            with self._mu:
                self._alive()
                self._node(path)
                del self.tree[path]
                return 0

        def rename(self, old: str, new: str) -> int:
            with self._mu:
                self._alive()
                moved = {p: n for p, n in self.tree.items() if p == old or p.startswith(old + "/")}
                if not moved:
                    raise fuse.FuseOSError(errno.ENOENT)
                for p in moved:
                    del self.tree[p]
                for p, n in moved.items():
                    self.tree[new + p[len(old):]] = n
                return 0

        def chmod(self, path: str, mode: int) -> int:
            with self._mu:
                self._alive()
                node = self._node(path)
                node.mode = (node.mode & ~0o7777) | (mode & 0o7777)
                return 0

        def chown(self, path: str, uid: int, gid: int) -> int:
            return 0

        def utimens(self, path: str, times: Any = None) -> int:
            with self._mu:
                self._alive()
                self._node(path).mtime_ns = time.time_ns()
                return 0

        def statfs(self, path: str) -> dict[str, int]:
            return {"f_bsize": 4096, "f_frsize": 4096, "f_blocks": 1 << 20, "f_bfree": 1 << 19,
                    "f_bavail": 1 << 19, "f_files": 1 << 16, "f_ffree": 1 << 15,
                    "f_favail": 1 << 15, "f_namemax": 255}

        # --- bytes ----------------------------------------------------------------------
        def read(self, path: str, size: int, offset: int, fh: Any) -> bytes:
            with self._mu:
                self._alive()
                return bytes(self._node(path).data[offset:offset + size])

        def write(self, path: str, data: bytes, offset: int, fh: Any) -> int:
            with self._mu:
                self._alive()
                node = self._node(path)
                buf = node.data
                if offset > len(buf):
                    buf.extend(bytes(offset - len(buf)))
                buf[offset:offset + len(data)] = data
                node.mtime_ns = time.time_ns()
                self.stats["writes"] += 1
                if path.endswith("-shm"):
                    self.stats["mmap_shm_writes"] += 1
                return len(data)

        def truncate(self, path: str, length: int, fh: Any = None) -> int:
            with self._mu:
                self._alive()
                node = self._node(path)
                if length < len(node.data):
                    del node.data[length:]
                else:
                    node.data.extend(bytes(length - len(node.data)))
                return 0

        def fallocate(self, path: str, mode: int, offset: int, size: int, fh: Any) -> int:
            with self._mu:
                self._alive()
                node = self._node(path)
                if mode == 0 and offset + size > len(node.data):
                    node.data.extend(bytes(offset + size - len(node.data)))
                return 0

        def fsync(self, path: str, datasync: int, fh: Any) -> int:
            with self._mu:
                self._alive()
                node = self._node(path)
                node.durable = bytes(node.data)
                self._journal()
                self.stats["fsync"] += 1
                return 0

        def fsyncdir(self, path: str, datasync: int, fh: Any) -> int:
            with self._mu:
                self._alive()
                self._journal()
                self.stats["fsyncdir"] += 1
                return 0

        def flush(self, path: str, fh: Any) -> int:
            return 0

        def release(self, path: str, fh: Any) -> int:
            return 0

    return Ops()


def _serve(mountpoint: str, ctl: Any) -> None:
    """The server process: mount, serve until unmounted, wait for the next command; repeat."""
    import logging

    import mfusepy as fuse

    logging.getLogger("mfusepy").setLevel(logging.CRITICAL)
    ops = _make_ops()
    mount_wanted = threading.Event()
    mount_wanted.set()
    stopping = threading.Event()

    def control() -> None:
        while True:
            try:
                cmd = ctl.recv()
            except EOFError:
                stopping.set()
                mount_wanted.set()
                _unmount(mountpoint)
                return
            if cmd == "cut":
                ctl.send(ops.cut())
            elif cmd == "mount":
                ops.revive()
                mount_wanted.set()
                ctl.send("ok")
            elif cmd == "stats":
                ctl.send(dict(ops.stats))
            elif cmd == "stop":
                stopping.set()
                mount_wanted.set()
                _unmount(mountpoint)
                ctl.send("ok")
                return

    threading.Thread(target=control, daemon=True).start()
    while not stopping.is_set():
        mount_wanted.wait()
        mount_wanted.clear()
        if stopping.is_set():
            break
        # Page cache on (no direct_io): a shared writable mmap of -shm needs it.
        fuse.FUSE(ops, mountpoint, foreground=True, nothreads=False, fsname="powerfs",
                  attr_timeout=0, entry_timeout=0, negative_timeout=0, max_threads=8)
    os._exit(0)


def _unmount(mountpoint: str) -> None:
    subprocess.run(["fusermount3", "-uz", mountpoint], capture_output=True, check=False)


class PowerFS:
    """The file system's server process and its mount point, as the test sees them."""

    def __init__(self, mountpoint: Path, ctx: Any = None) -> None:
        self.mountpoint = Path(mountpoint)
        self._ctx = ctx or mp.get_context("fork")
        self._ctl: Any = None
        self.proc: Any = None
        self.last_stats: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<PowerFS {self.mountpoint} cuts={self.last_stats.get('cuts', 0)}>"

    def start(self, timeout: float = 15.0) -> PowerFS:
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        ours, theirs = self._ctx.Pipe()
        self.proc = self._ctx.Process(target=_serve, args=(str(self.mountpoint), theirs),
                                      daemon=True, name="powerfs")
        self.proc.start()
        theirs.close()
        self._ctl = ours
        self._wait_mounted(True, timeout)
        return self

    def cut(self) -> dict[str, int]:
        """Power off now: unsynced writes are gone and every operation fails until remount()."""
        self._ctl.send("cut")
        self.last_stats = self._ctl.recv()
        return self.last_stats

    def remount(self, timeout: float = 15.0) -> None:
        """Power on: a fresh mount (and a fresh page cache) over the surviving bytes. Every
        process that had files open on the old mount must have been killed first."""
        _unmount(str(self.mountpoint))
        self._wait_mounted(False, timeout)
        self._ctl.send("mount")
        self._ctl.recv()
        self._wait_mounted(True, timeout)

    def stats(self) -> dict[str, int]:
        self._ctl.send("stats")
        self.last_stats = self._ctl.recv()
        return self.last_stats

    def stop(self) -> None:
        """Unmount and end the server; safe to call twice and after a failure."""
        try:
            if self._ctl is not None and self.proc is not None and self.proc.is_alive():
                self._ctl.send("stop")
                if self._ctl.poll(10):
                    self._ctl.recv()
        except (OSError, EOFError):
            pass
        finally:
            _unmount(str(self.mountpoint))
            if self.proc is not None:
                self.proc.join(10)
                if self.proc.is_alive():
                    self.proc.kill()
                    self.proc.join(5)
            self.proc = None

    def _wait_mounted(self, want: bool, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while _is_fuse_mount(self.mountpoint) != want:
            if self.proc is None or not self.proc.is_alive():
                raise RuntimeError(f"powerfs server exited ({self.proc and self.proc.exitcode})")
            if time.monotonic() > deadline:
                raise TimeoutError(f"powerfs {'mount' if want else 'unmount'} timed out")
            time.sleep(0.005)


def _is_fuse_mount(path: Path) -> bool:
    target = os.path.realpath(path)
    with open("/proc/self/mounts") as fh:
        return any(line.split()[1] == target and line.split()[0] == "powerfs" for line in fh)
