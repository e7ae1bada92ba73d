"""The bureau simulator and the sync daemon as real subprocesses, for the sync tests and bench."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
KIOSK_ID = "KIOSK-0001"


class BureauSim:
    """`python -m simulators.bureau` in a state directory; restartable on the same port."""

    def __init__(self, workdir: Path, **faults: Any) -> None:
        self.workdir = Path(workdir)
        self.state = self.workdir / "state"
        self.faults = faults
        self.port = 0
        self.admin_port = 0
        self.files: dict[str, str] = {}
        self.kiosk_id = KIOSK_ID
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    def start(self, timeout: float = 30.0) -> BureauSim:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ready = self.workdir / "ready.json"
        ready.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "simulators.bureau", "--state", str(self.state),
               "--port", str(self.port), "--admin-port", str(self.admin_port),
               "--kiosk-id", self.kiosk_id, "--ready-file", str(ready)]
        for name, value in self.faults.items():
            cmd += [f"--{name.replace('_', '-')}", str(value)]
        log = open(self.workdir / "bureau.log", "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"bureau simulator exited {self.proc.returncode}: "
                                   + (self.workdir / "bureau.log").read_text()[-2000:])
            if time.monotonic() > deadline:
                raise TimeoutError("bureau simulator did not get ready")
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        self.port, self.admin_port, self.files = info["port"], info["admin_port"], info["files"]
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, sig: int = signal.SIGKILL) -> None:
        self.stop(sig)
        self.restarts += 1
        for _ in range(50):  # the port may linger a moment after a kill
            try:
                self.start()
                return
            except RuntimeError:
                time.sleep(0.1)
        raise RuntimeError("bureau simulator did not come back")

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    # --- admin API -------------------------------------------------------------------------
    def admin(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}{path}", data=data,
                                     method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self.admin("PUT", "/faults", faults)

    def clear_faults(self) -> None:
        self.set_faults(latency_ms=0, error_rate=0, drop_rate=0, throttle_rate=0, garbage_rate=0,
                        tls_failure_rate=0)

    def stats(self) -> dict[str, Any]:
        return self.admin("GET", "/stats")

    def stored(self) -> list[tuple[str, str, str, int]]:
        """(idempotency_key, reference, outcome, times_received) straight from the store file."""
        db = sqlite3.connect(self.state / "bureau.sqlite3", timeout=10)
        try:
            return db.execute("SELECT idempotency_key, reference, outcome, times_received "
                              "FROM submissions").fetchall()
        finally:
            db.close()

    # --- kiosk side --------------------------------------------------------------------------
    def kiosk_config(self, data_dir: Path, **sync: Any) -> Path:
        """A kiosk.toml pointing the sync daemon at this simulator; returns its path."""
        data_dir.mkdir(parents=True, exist_ok=True)
        sock_dir = Path(tempfile.mkdtemp(prefix="ks-", dir="/tmp"))  # AF_UNIX paths are short
        values = {
            "bureau_url": self.url, "ca_file": self.files["ca"],
            "cert_file": self.files[f"kiosk_cert:{self.kiosk_id}"],
            "key_file": self.files[f"kiosk_key:{self.kiosk_id}"],
            "bureau_public_key_file": self.files["hpke_public_pem"],
            "socket_path": str(sock_dir / "sync.sock"),
            "request_timeout_s": 5.0, "backoff_base_s": 0.05, "backoff_max_s": 2.0,
            "heartbeat_s": 30.0, "min_free_mb": 1,
        }
        values.update(sync)
        from kiosk.config import KEYS
        # Keys only proposed for the schema (kiosk/sync/settings.py) cannot be set in a file yet.
        values = {k: v for k, v in values.items() if f"sync.{k}" in KEYS}
        lines = ["[kiosk]", f'id = "{self.kiosk_id}"', f'data_dir = "{data_dir}"', "", "[sync]"]
        for key, value in values.items():
            lines.append(f"{key} = {json.dumps(value)}")
        lines += ["", "[log]", 'level = "warning"']
        path = data_dir.parent / f"{data_dir.name}.toml"
        path.write_text("\n".join(lines) + "\n")
        return path


def start_daemon(config: Path, log_path: Path, **env_extra: str) -> subprocess.Popen:
    log = open(log_path, "ab")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("NOTIFY_SOCKET", None)
    env.update(env_extra)
    try:
        cmd = [sys.executable, "-m", "kiosk.cli.sync", "run", "--config", str(config)]
        return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    finally:
        log.close()


def queue_counts(data_dir: Path) -> dict[str, int]:
    """Row counts per state, read from the outbox file without the kiosk's code."""
    db = sqlite3.connect(Path(data_dir) / "outbox.db", timeout=10)
    try:
        counts = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    finally:
        db.close()
    return {s: counts.get(s, 0) for s in ("pending", "in_flight", "dead")}
