"""`make run` on a machine without a display: simulators start, the walkthrough writes a
screenshot per step, prints their paths and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys

from PIL import Image


def test_headless_run_writes_screenshots_and_exits_0(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    env["KIOSK_DATA_DIR"] = str(tmp_path / "data")
    env["KIOSK_SYNC_SOCKET_PATH"] = str(tmp_path / "none.sock")
    res = subprocess.run([sys.executable, "-m", "simulators.launch", "--out", str(tmp_path / "sims"), "--",
                          sys.executable, "-m", "kiosk", "run", "--sim", "--walkthrough", str(tmp_path / "shots")],
                         capture_output=True, text=True, timeout=180, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    paths = [line for line in res.stdout.splitlines() if line.endswith(".png")]
    assert len(paths) >= 10
    for path in paths:
        with Image.open(path) as img:
            assert img.size == (1920, 1080)
            assert len(img.getcolors(1 << 20) or []) > 10  # a drawn screen, not a blank one
    assert "Traceback" not in res.stderr
