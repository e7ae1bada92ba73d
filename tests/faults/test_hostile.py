"""Fault-table rows that are not about counting submissions: a flood on the daemon's local socket,
hostile settings pushed by the bureau, and a clock stepped forward and back. Each row says what
was expected and what was observed, against the real daemon and bureau simulator where one runs.
(The forged card's row is in test_forged_card.py: it needs the card stack.)"""

from __future__ import annotations

import math
import socket
import time

import pytest

from kiosk import config
from kiosk.sync.clock import ClockCheck
from kiosk.sync.ipc import SyncClient
from tests.sync.test_config_push import kiosk  # noqa: F401 (fixture: the daemon in a thread)
from tests.sync.test_ipc_limits import bureau, daemon, half_sent, many_fds  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def test_socket_flood(daemon, many_fds, fault_table):  # noqa: F811 (fixtures imported above)
    threads0, fds0 = daemon.proc_status("Threads"), daemon.fds()
    held: list[socket.socket] = []
    try:
        held = half_sent(daemon, 1000)
        threads, fds = daemon.proc_status("Threads"), daemon.fds()
        answered = SyncClient(daemon.socket_path).call("status", timeout=5).get("daemon_running") is True
    finally:
        for s in held:
            s.close()
    ok = answered and threads <= threads0 + 8 and fds <= fds0 + 80
    fault_table.add_expectation(
        "socket flood (1,000 half-sent)", 1, "status still answers; threads and fds bounded",
        f"status {'answered' if answered else 'NOT answered'}; threads {threads0}->{threads}, fds {fds0}->{fds}", ok)
    assert ok


# What a compromised or buggy bureau might push: each must leave a layer file that loads, keep the
# daemon running, refuse the bad value and still apply the good one next to it.
HOSTILE_PUSHES = {
    "control characters": {"kiosk.bureau_name": "人社局\r\x07\x1b[2J"},
    "NaN": {"sync.heartbeat_s": float("nan")},
    "infinity": {"session.inactivity_s": float("inf")},
    "unknown key": {"kiosk.shell": "/bin/sh", "ui.nonexistent": 1},
    "identity key": {"kiosk.id": "EVIL-0001", "sync.bureau_url": "http://evil.example"},
    "huge value": {"kiosk.bureau_name": "局" * 100_000},
    "wrong type": {"session.inactivity_s": "soon", "ui.care_mode": {"nested": [1, 2]}},
}


def test_hostile_pushes(bureau, kiosk, fault_table):  # noqa: F811 (fixtures imported above)
    failures = []
    for good, (name, bad) in enumerate(HOSTILE_PUSHES.items(), start=42):
        # a good value travels beside each bad one, in a key the bad push does not touch
        good_key = "liveness.attempt_timeout_s" if "session.inactivity_s" in bad else "session.inactivity_s"
        bureau.admin("PUT", f"/kiosk-config/{bureau.kiosk_id}", {**bad, good_key: float(good)})
        try:
            kiosk.ui.refresh_reference()
            cfg = kiosk.config()  # what both processes load at their next start
        except Exception as exc:  # the row says which push broke what
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        leaked = [k for k in bad if k in config.SCHEMA and cfg.sources.get(k) == "bureau"]
        if not kiosk.thread.is_alive():
            failures.append(f"{name}: the daemon stopped")
        elif cfg[good_key] != good:
            failures.append(f"{name}: the good value next to it was not applied")
        elif leaked or not math.isfinite(cfg["sync.heartbeat_s"]) or cfg["kiosk.id"] != bureau.kiosk_id:
            failures.append(f"{name}: applied {leaked}")
    fault_table.add_expectation(
        "bureau pushes hostile settings", len(HOSTILE_PUSHES),
        "layer loads, daemon runs, bad value refused, good one applied",
        "; ".join(failures) or f"{len(HOSTILE_PUSHES)}/{len(HOSTILE_PUSHES)} as expected ({', '.join(HOSTILE_PUSHES)})",
        not failures)
    assert not failures


class Clocks:
    def __init__(self) -> None:
        self.wall, self.mono = 1.8e9, 1000.0


def test_clock_stepped_forward_and_back(fault_table):
    """The bureau agreed with the clock; then the clock is stepped a day forward, and later an
    hour back: each step ends the trust until the bureau is asked again."""
    clocks = Clocks()
    check = ClockCheck(wall=lambda: clocks.wall, monotonic=lambda: clocks.mono, synchronised=lambda: True)
    server = lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clocks.wall))  # noqa: E731
    check.observe(server(), clocks.wall, clocks.wall)
    seen = [check.trusted()]
    clocks.wall += 86_400  # stepped forward by a lying time source
    seen.append(check.trusted())
    check.observe(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clocks.wall - 86_400)), clocks.wall, clocks.wall)
    seen.append(check.trusted())  # the bureau disagrees by a day
    clocks.wall -= 86_400 + 3600  # stepped back, an hour behind the bureau
    check.observe(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clocks.wall + 3600)), clocks.wall, clocks.wall)
    seen.append(check.trusted())
    clocks.wall += 3600  # corrected
    check.observe(server(), clocks.wall, clocks.wall)
    seen.append(check.trusted())
    want = [True, False, False, False, True]
    fault_table.add_expectation(
        "clock stepped forward and back", 4, "untrusted after each step until the bureau agrees",
        "trusted " + " -> ".join("yes" if t else "no" for t in seen), seen == want)
    assert seen == want, seen
