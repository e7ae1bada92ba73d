"""Lint and types are part of the suite: ruff with the rules pinned in pyproject.toml on every
Python tree, mypy on kiosk/ (its settings in pyproject.toml). `make lint` runs the same two."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)


def test_ruff_finds_nothing():
    res = _run("ruff", "check", "--no-cache", "kiosk", "simulators", "tests", "bench")
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]


def test_mypy_finds_nothing():
    res = _run("mypy", "--no-incremental")
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
