"""The boot test runs once per session; its checks are separate tests that read its result."""

from __future__ import annotations

import pytest

from tests.appliance import boot


@pytest.fixture(scope="session")
def booted() -> boot.BootResult:
    why = boot.cannot_run()
    if why:
        pytest.skip(f"appliance boot test cannot run here: {why}")
    result = boot.run_boot_test()
    print("\n" + result.report())
    return result
