"""Reboot and power-off from the maintenance menu go through systemctl, which must never stop to
ask for a password: the UI runs on a terminal (TTYPath=/dev/tty1), and a prompt there would
freeze the menu until the timeout. A stand-in systemctl on PATH records what it was given."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kiosk.hw.power import SystemdPower


@pytest.mark.parametrize(("method", "verb"), [("reboot", "reboot"), ("shutdown", "poweroff")])
def test_power_asks_systemctl_never_to_prompt(tmp_path: Path, monkeypatch, method: str, verb: str) -> None:
    record = tmp_path / "args"
    fake = tmp_path / "systemctl"
    # Records its arguments and whether standard input is a terminal or has anything to read.
    fake.write_text(f'#!/bin/sh\necho "$@" > {record}\nif [ -t 0 ]; then echo tty >> {record}; fi\n'
                    f'cat >> {record}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    getattr(SystemdPower(stop_app=lambda code: None), method)()
    lines = record.read_text().splitlines()
    assert lines == [f"--no-ask-password {verb}"]   # no prompt flag, nothing read, no terminal
