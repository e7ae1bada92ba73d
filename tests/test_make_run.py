"""`make run` exactly as the README shows it, on a machine without a display: the simulators start
(the card stack too), the walkthrough goes through a pension authentication by card + PIN and
liveness with the submission acknowledged by the bureau, a contributions query with its receipt
printed, and exits 0; when a simulator cannot start, it exits non-zero and says why."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ROOT, card_stack_paused

OUT = ROOT / "out"


def _user_env() -> dict[str, str]:
    """A newcomer's shell: no display, none of the test suite's KIOSK_* or SDL settings."""
    drop = ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER", "SDL_AUDIODRIVER", "MAKEFLAGS", "MAKELEVEL")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("KIOSK_")}


def _bureau_kinds() -> list[str]:
    store = OUT / "bureau" / "bureau.sqlite3"
    assert store.exists(), f"no bureau store at {store}"
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        return [r[0] for r in db.execute("SELECT kind FROM submissions")]


def _receipts() -> set[str]:
    return {p.name for p in (OUT / "receipts").glob("*.png")} if (OUT / "receipts").exists() else set()


@pytest.mark.slow
def test_make_run_walks_a_whole_pension_authentication_and_a_printed_query():
    receipts_before = _receipts()
    with card_stack_paused():
        res = subprocess.run(["make", "run"], cwd=ROOT, capture_output=True, text=True, timeout=400,
                             env=_user_env())
    assert res.returncode == 0, res.stderr[-4000:]
    assert "card stack not started" not in res.stderr
    assert "Traceback" not in res.stderr
    stats = json.loads((OUT / "walkthrough.json").read_text())
    assert stats["failed"] == []
    paths = [line for line in res.stdout.splitlines() if line.startswith("out/") and line.endswith(".png")]
    names = " ".join(paths)
    for step in ("home-zh", "pension-liveness", "pension-pictures", "pension-result", "contributions-table",
                 "contributions-receipt-printed", "take-card", "technician-pin"):
        assert step in names, f"no screenshot of {step}"
    for path in paths:
        with Image.open(ROOT / path) as img:
            assert img.size == (1920, 1080)
            assert len(img.getcolors(1 << 20) or []) > 10  # a drawn screen, not a blank one
    assert "pension_certification" in _bureau_kinds()
    assert len(_receipts() - receipts_before) >= 2  # the pension receipt and the contributions summary


def test_make_run_stops_with_the_reason_when_a_simulator_cannot_start(card_stack):
    """The session's pcscd holds the machine's only card stack: `make run` must say so and fail,
    not open a kiosk with greyed-out card tiles."""
    res = subprocess.run(["make", "run"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=_user_env())
    assert res.returncode == 2  # make's failure status, as the README says
    assert "launch: card stack not started: another pcscd is running" in res.stderr
    assert "Error 3" in res.stderr  # the launcher's own status, which make reports
    assert "Traceback" not in res.stderr


def test_a_walk_that_cannot_run_a_step_exits_1_with_the_step_and_its_reason(tmp_path):
    """No camera: the walk must not skip the pension authentication quietly."""
    env = {**_user_env(), "KIOSK_CAMERA": "none", "KIOSK_DATA_DIR": str(tmp_path / "data")}
    with card_stack_paused():
        res = subprocess.run([".venv/bin/python", "-m", "simulators.launch", "--out", str(tmp_path / "sims"), "--",
                              ".venv/bin/python", "-m", "kiosk", "run", "--sim", "--walkthrough", str(tmp_path / "shots")],
                             cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 1, res.stderr[-3000:]
    assert "kiosk: the walkthrough failed" in res.stderr
    assert "devices: devices not ready: camera:" in res.stderr
    stats = json.loads((tmp_path / "shots" / "walkthrough.json").read_text())
    assert stats["failed"] and stats["failed"][0].startswith("devices:")


def test_the_launcher_stops_every_simulator_when_it_is_stopped(tmp_path):
    """SIGTERM to `make run`'s launcher reaches the command, and no simulator is left behind."""
    import signal
    import time

    waiter = ("import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); "
              "print('up', flush=True); time.sleep(60)")
    env = {**_user_env(), "KIOSK_DATA_DIR": str(tmp_path / "data")}
    with card_stack_paused():
        proc = subprocess.Popen([".venv/bin/python", "-m", "simulators.launch", "--out", str(tmp_path / "sims"),
                                 "--", ".venv/bin/python", "-c", waiter], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        while (line := proc.stdout.readline()) and line.strip() != "up":
            pass
        children = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                   text=True).stdout.split()]
        assert len(children) >= 4  # printer, bureau, card emulator side, sync daemon, the command
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        alive = children
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in alive if Path(f"/proc/{pid}").exists()
                     and "zombie" not in Path(f"/proc/{pid}/status").read_text()]
            time.sleep(0.1)
        assert alive == [], f"left running: {alive}"
