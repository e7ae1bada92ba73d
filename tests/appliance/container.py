"""A booted rootfs under systemd-nspawn, driven from the host: commands run inside through
nsenter into the namespaces of the container's PID 1 (no machined, no D-Bus on the host)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class Container:
    """A booted rootfs. Commands run inside through nsenter into its PID 1's namespaces."""

    def __init__(self, root: Path, console_log: Path) -> None:
        self.root = root
        self.console_log = console_log
        self.proc: subprocess.Popen[bytes] | None = None
        self.leader = 0

    def boot(self, timeout: float = 30) -> None:
        with open(self.console_log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    "systemd-nspawn",
                    "--boot",
                    "--register=no",
                    "--keep-unit",
                    "--quiet",
                    "--console=pipe",
                    "-D",
                    str(self.root),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"systemd-nspawn exited {self.proc.returncode}; see {self.console_log}"
                )
            self.leader = _container_init(self.proc.pid)
            if self.leader and self.sh("systemctl", "is-system-running").stdout.strip() not in (
                "",
                "offline",
            ):
                return
            time.sleep(0.2)
        raise RuntimeError("the container's systemd did not come up")

    def sh(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["nsenter", "-t", str(self.leader), "-a", "--", *cmd],
            check=False,
            text=True,
            capture_output=True,
            timeout=timeout,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
        )

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.sh("systemctl", "show", unit, *(f"--property={p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_for(
        self,
        unit: str,
        pred: Callable[[dict[str, str]], bool],
        timeout: float,
        props: tuple[str, ...] = ("ActiveState", "SubState", "NRestarts", "Result"),
    ) -> tuple[bool, float, dict[str, str]]:
        start = time.monotonic()
        state: dict[str, str] = {}
        while time.monotonic() - start < timeout:
            state = self.show(unit, *props)
            if pred(state):
                return True, time.monotonic() - start, state
            time.sleep(0.2)
        return False, time.monotonic() - start, state

    def journal(self, unit: str) -> str:
        return self.sh("journalctl", "--no-pager", "-o", "short-monotonic", "-u", unit).stdout

    def poweroff(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.sh("systemctl", "poweroff", "--no-block")
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def _container_init(nspawn_pid: int) -> int:
    """The container's PID 1: a descendant of systemd-nspawn that is PID 1 in its namespace."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(ln.split(":", 1) for ln in status.read_text().splitlines() if ":" in ln)
        except OSError:
            continue
        nspid = fields.get("NSpid", "").split()
        if len(nspid) >= 2 and nspid[-1] == "1" and _descends(int(nspid[0]), nspawn_pid):
            return int(nspid[0])
    return 0


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False
