"""Restart, reboot and shut down. On the appliance reboot/poweroff go through systemctl (a polkit
rule lets the kiosk user do exactly these); restarting the app is leaving the loop with a code
that systemd's Restart=always answers. In simulation the requests are only recorded."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable

log = logging.getLogger(__name__)

RESTART_EXIT_CODE = 75  # EX_TEMPFAIL: "try again", restarted by systemd


class SystemdPower:
    def __init__(self, stop_app: Callable[[int], None]) -> None:
        self._stop_app = stop_app

    def restart_app(self) -> None:
        log.warning("event=power action=restart_app")
        self._stop_app(RESTART_EXIT_CODE)

    def reboot(self) -> None:
        log.warning("event=power action=reboot")
        subprocess.run(["systemctl", "--no-ask-password", "reboot"], check=True, timeout=10, stdin=subprocess.DEVNULL)

    def shutdown(self) -> None:
        log.warning("event=power action=poweroff")
        subprocess.run(["systemctl", "--no-ask-password", "poweroff"], check=True, timeout=10, stdin=subprocess.DEVNULL)


class SimPower:
    """Records what was asked; `make run` and tests use it so nothing reboots the host."""

    def __init__(self, stop_app: Callable[[int], None] | None = None) -> None:
        self.requests: list[str] = []
        self._stop_app = stop_app

    def restart_app(self) -> None:
        self.requests.append("restart_app")
        log.warning("event=power action=restart_app sim=true")

    def reboot(self) -> None:
        self.requests.append("reboot")
        log.warning("event=power action=reboot sim=true")

    def shutdown(self) -> None:
        self.requests.append("shutdown")
        log.warning("event=power action=shutdown sim=true")

    def __repr__(self) -> str:
        return f"<SimPower requests={self.requests}>"
