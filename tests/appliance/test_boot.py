"""The appliance booted in systemd-nspawn (tests/appliance/boot.py): each check is one test.

Skipped, with the reason, where the machine cannot run it (not root, no systemd-nspawn or
mmdebstrap, no overlayfs) or when KIOSK_SKIP_APPLIANCE is set. First run ~2 min (rootfs
build), then ~35 s from the cache in /var/cache/kiosk-appliance.
"""

from __future__ import annotations

import pytest

from tests.appliance.boot import BootResult

pytestmark = pytest.mark.slow

CHECKS = [
    "verify",
    "sync_active",
    "heartbeat",
    "ui_socket",
    "ui_active",
    "venv_numpy",
    "data_dir",
    "ui_sandbox_socket",
    "watchdog",
    "ui_stop",
    "ui_hang",
]


@pytest.mark.parametrize("name", CHECKS)
def test_appliance(booted: BootResult, name: str) -> None:
    """GIVEN the rootfs booted with the units as shipped WHEN the check ran THEN it passed."""
    if name in booted.skipped:
        pytest.skip(booted.skipped[name])
    assert name in booted.checks, f"check {name} did not run; report:\n{booted.report()}"
    ok, detail = booted.checks[name]
    assert ok, f"{name}: {detail}\n(journals in out/appliance/)"
