"""Start and stop the whole simulated card stack: a private pcscd with the vpcd driver, and the
card emulator with its control channel. Used by tests, the bench and `make run`.

Only one pcscd can run per machine, so this refuses to start when another one is running.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
START_TIMEOUT_S = 10.0


class StackUnavailable(RuntimeError):
    """pcscd or the vpcd driver is missing, or another pcscd holds the machine."""


def missing_parts() -> str | None:
    """Why the stack cannot run here, or None."""
    if shutil.which("pcscd") is None:
        return "pcscd is not installed (run scripts/setup-pcsc.sh)"
    if not VPCD_CONF.exists() or not VPCD_DRIVER.exists():
        return "the vsmartcard-vpcd driver is not installed (run scripts/setup-pcsc.sh)"
    return None


def _running_pcscd() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "comm").read_text().strip() == "pcscd" and ") Z " not in (proc / "stat").read_text():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test run or bench that started us dies (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CardStack:
    """pcscd + emulator as child processes. `ctl("INSERT activated")` drives the emulator."""

    def __init__(self, workdir: Path | None = None, quickack: bool = True, persona: str | None = None) -> None:
        # absolute: pcscd refuses a relative -c folder (and `make run` passes out/card)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="card-stack-")).resolve()
        self.quickack = quickack
        self.persona = persona
        self.control_port = _free_port()
        self.pcscd: subprocess.Popen | None = None
        self.emulator: subprocess.Popen | None = None
        self._ctl: socket.socket | None = None
        self._ctl_file = None

    def __repr__(self) -> str:
        return (f"<CardStack pcscd={self.pcscd.pid if self.pcscd else None} "
                f"emulator={self.emulator.pid if self.emulator else None} control={self.control_port}>")

    def __enter__(self) -> CardStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- pcscd
    def start_pcscd(self) -> None:
        problem = missing_parts()
        if problem:
            raise StackUnavailable(problem)
        others = _running_pcscd()
        if others:
            raise StackUnavailable(f"another pcscd is running (pid {', '.join(map(str, others))}); stop it first")
        conf = self.workdir / "reader.conf.d"
        conf.mkdir(parents=True, exist_ok=True)
        shutil.copy(VPCD_CONF, conf / "vpcd")
        log_path = self.workdir / "pcscd.log"
        offset = log_path.stat().st_size if log_path.exists() else 0
        logf = log_path.open("ab")
        self.pcscd = subprocess.Popen(["pcscd", "--foreground", "--info", "-c", str(conf)],
                                      stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
                                      preexec_fn=_die_with_parent)  # noqa: PLW1509 (prctl only, before exec)
        deadline = time.monotonic() + START_TIMEOUT_S
        while b"daemon ready" not in log_path.read_bytes()[offset:]:
            if self.pcscd.poll() is not None:
                raise StackUnavailable(f"pcscd exited with {self.pcscd.returncode}; see {self.workdir}/pcscd.log")
            if time.monotonic() > deadline:
                raise StackUnavailable("pcscd did not become ready")
            time.sleep(0.05)
        log.info("event=pcscd_started pid=%d", self.pcscd.pid)

    def stop_pcscd(self) -> None:
        """SIGTERM and wait: a new pcscd refuses to start while the old one still runs."""
        proc, self.pcscd = self.pcscd, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        with (self.workdir / "pcscd.log").open("ab") as fh:
            fh.write(b"--- pcscd stopped\n")
        log.info("event=pcscd_stopped pid=%d", proc.pid)

    def restart_pcscd(self) -> None:
        self.stop_pcscd()
        self.start_pcscd()

    # --- emulator
    def start_emulator(self) -> None:
        cmd = [sys.executable, "-m", "simulators.card", "--control-port", str(self.control_port),
               "--state-file", str(self.workdir / "card-state.json"), "--fresh"]
        if not self.quickack:
            cmd.append("--no-quickack")
        if self.persona:
            cmd += ["--persona", self.persona]
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        logf = (self.workdir / "emulator.log").open("ab")
        self.emulator = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=logf, cwd=root, env=env,
                                         start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509 (prctl only, before exec)
        line = self.emulator.stdout.readline() if self.emulator.stdout else b""
        if line.strip() != b"READY":
            raise StackUnavailable(f"card emulator did not start; see {self.workdir}/emulator.log")
        deadline = time.monotonic() + START_TIMEOUT_S
        while "psam=1" not in self.ctl("STATUS"):
            if time.monotonic() > deadline:
                raise StackUnavailable("the PSAM slot did not connect to vpcd")
            time.sleep(0.05)

    def ctl(self, line: str) -> str:
        """One control command; returns the reply line (raises on ERR)."""
        if self._ctl is None:
            self._ctl = socket.create_connection(("127.0.0.1", self.control_port), timeout=30)
            self._ctl_file = self._ctl.makefile("rw", encoding="utf-8")
        assert self._ctl_file is not None
        self._ctl_file.write(line + "\n")
        self._ctl_file.flush()
        reply = self._ctl_file.readline().strip()
        if not reply.startswith("OK"):
            raise RuntimeError(f"emulator control {line!r}: {reply}")
        return reply

    def start(self) -> None:
        self.start_pcscd()
        try:
            self.start_emulator()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = self._ctl_file = None
        proc, self.emulator = self.emulator, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.stop_pcscd()
