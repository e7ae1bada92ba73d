"""The systemd notify protocol in pure Python (READY=1, WATCHDOG=1, STATUS=...).

Handles abstract sockets ('@' prefix) and does nothing when NOTIFY_SOCKET is unset.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one datagram to the service manager; False when there is none or it failed."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        return False  # vsock and other schemes are not used on the kiosk
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
        return True
    except OSError:
        return False


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Half the WatchdogSec systemd asked for, in seconds (None when no watchdog is set)."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1e6 / 2
    except ValueError:
        return None


class Notifier:
    """Rate-limited watchdog pings and status updates, driven by the caller's clock."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._env = dict(os.environ if environ is None else environ)
        self.interval = watchdog_interval(self._env)
        self._last_ping = float("-inf")
        self._last_status = ""

    def ready(self, status: str = "") -> None:
        notify("READY=1" + (f"\nSTATUS={status}" if status else ""), self._env)
        self._last_status = status

    def tick(self, now: float, status: str = "") -> None:
        """Call from the main loop every frame: pings only as often as needed."""
        if self.interval is not None and now - self._last_ping >= min(self.interval, 1.0):
            notify("WATCHDOG=1", self._env)
            self._last_ping = now
        if status and status != self._last_status:
            notify(f"STATUS={status}", self._env)
            self._last_status = status

    def stopping(self) -> None:
        notify("STOPPING=1", self._env)
