"""One bureau simulator for the provisioning tests, and a kiosk sync daemon on a data store that
knows nothing but its data directory: everything else comes from the provisioning store."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.sync.simproc import BureauSim, start_daemon

KIOSK_ID = "KIOSK-0042"  # not one the simulator made a certificate for: the identity is new


@pytest.fixture(scope="package")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BureauSim]:
    sim = BureauSim(tmp_path_factory.mktemp("bureau")).start()
    yield sim
    sim.stop()


def bare_config(data_dir: Path) -> Path:
    """A kiosk.toml with no identity, no bureau URL and no TLS or sealing files: only where the
    data directory is and the daemon's socket, and short retry delays for the test."""
    sock_dir = Path(tempfile.mkdtemp(prefix="kp-", dir="/tmp"))
    path = data_dir.parent / f"{data_dir.name}.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{data_dir}"\n\n[sync]\nsocket_path = "{sock_dir}/sync.sock"\n'
                    "backoff_base_s = 0.05\nbackoff_max_s = 1.0\nmin_free_mb = 1\nidle_poll_s = 0.1\n"
                    '\n[log]\nlevel = "warning"\n')
    return path


@pytest.fixture
def daemon() -> Iterator[Callable[[Path], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(data_dir: Path) -> subprocess.Popen[bytes]:
        proc = start_daemon(bare_config(data_dir), data_dir.parent / f"{data_dir.name}-sync.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        time.sleep(0.05)
