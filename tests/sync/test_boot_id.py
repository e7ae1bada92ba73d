"""This boot's identity under the units' sandbox: ProcSubset=pid hides
/proc/sys/kernel/random/boot_id, so the units hand it over as KIOSK_BOOT_ID=%b (issue 13, #10)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kiosk.sync import clock
from kiosk.sync.outbox import NoSealer, Outbox
from kiosk.sync.seal import BureauSealer
from tests.sync.helpers import loss_report

BOOT = "0f3c2a9be1d94c7c8d6c1e2f3a4b5c6d"


@pytest.fixture
def sandboxed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The daemon's view under ProcSubset=pid: the kernel's file is not there, the env var is."""
    monkeypatch.setattr(clock, "_BOOT_ID_FILE", tmp_path / "no-such-proc" / "boot_id")
    monkeypatch.setenv("KIOSK_BOOT_ID", BOOT)


def test_restarts_within_one_boot_are_one_boot_and_keep_a_live_daemons_rows(
        sandboxed: None, tmp_path: Path) -> None:
    """GIVEN KIOSK_BOOT_ID set and /proc's boot_id unreadable
    WHEN the daemon starts, claims a row, and the UI then opens the same queue twice (two UI
    restarts) THEN the boot counter stays at one and the daemon's in-flight row stays in flight;
    a daemon restart in the same boot still takes its own orphaned row back."""
    data = tmp_path / "data"
    sealer = BureauSealer(X25519PrivateKey.generate().public_key())
    daemon = Outbox(data, "KIOSK-0001", sealer, recover_in_flight=True)
    daemon.enqueue("card_loss_report", loss_report())
    claimed = daemon.claim_batch(10)
    assert len(claimed) == 1
    for _ in range(2):
        ui = Outbox(data, "KIOSK-0001", sealer, recover_in_flight=False)
        print(f"ui start: boot={ui.boot} status={ui.status()}")
        assert ui.boot == daemon.boot == 1, "a UI start counted as a new boot"
        assert ui.status().in_flight == 1, "a UI start put the daemon's in-flight row back"
        ui.close()
    daemon.close()
    restarted = Outbox(data, "KIOSK-0001", NoSealer(), recover_in_flight=True)
    assert restarted.boot == 1
    st = restarted.status()
    assert (st.pending, st.in_flight) == (1, 0)
    restarted.close()


def test_boot_id_prefers_the_environment_and_normalises_it(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    """%b is 32 hex digits, /proc's file is the same number with dashes: one boot, one id.
    An unexpanded or malformed value is ignored in favour of /proc."""
    proc = tmp_path / "boot_id"
    proc.write_text("0F3C2A9B-E1D9-4C7C-8D6C-1E2F3A4B5C6D\n")
    monkeypatch.setattr(clock, "_BOOT_ID_FILE", proc)
    monkeypatch.delenv("KIOSK_BOOT_ID", raising=False)
    from_proc = clock.boot_id()
    monkeypatch.setenv("KIOSK_BOOT_ID", BOOT)
    assert clock.boot_id() == from_proc == BOOT
    for bad in ("%b", "", "not-a-boot-id", "0" * 31):
        monkeypatch.setenv("KIOSK_BOOT_ID", bad)
        assert clock.boot_id() == BOOT
