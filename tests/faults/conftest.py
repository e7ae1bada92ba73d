"""The fault campaign's shared parts: the table every test adds its row to, printed in the
terminal summary (with or without -s) and written to out/test-artifacts/faults.json, and one
pre-imported fork server that starts the kiosk's processes of every trial."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import pytest

from tests.faults.table import TABLE, FaultTable

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = ROOT / "out" / "test-artifacts" / "faults.json"
# What every trial's processes import: paid once in the fork server, not once per trial.
PRELOAD = ["kiosk.config", "kiosk.cli.sync", "kiosk.sync.daemon", "kiosk.sync.outbox",
           "kiosk.sync.seal", "kiosk.runtime.logs", "tests.faults.workers", "mfusepy"]


@pytest.fixture(scope="session")
def fault_table() -> FaultTable:
    """Add a row: fault_table.add_queue(...) or fault_table.add_expectation(...)."""
    return TABLE


@pytest.fixture(scope="session")
def forkserver() -> Any:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TABLE.rows:
        return
    terminalreporter.section("fault table (tests/faults)")
    for line in TABLE.render():
        terminalreporter.write_line(line)
    TABLE.write(ARTIFACT)
    terminalreporter.write_line(f"written to {ARTIFACT.relative_to(ROOT)}")
