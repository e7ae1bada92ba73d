"""Technician access: door switch or hidden gesture, then a PIN (scrypt hash), lockout after
repeated failures, tamper alert when the door stays open without a valid PIN, all audited."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from kiosk.services.audit import AuditLog

if TYPE_CHECKING:
    from kiosk.config import Config
    from kiosk.services.diagnostics import Diagnostics

log = logging.getLogger(__name__)

# scrypt parameters: N=2^15, r=8, p=1 costs about 32 MiB and ~50-100 ms on a Pi 4: slow enough
# to make guessing a 6-8 digit PIN from a stolen settings file expensive, fast enough for a login.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2 ** 15, 8, 1, 32


def _boot_id() -> str:
    from kiosk.sync.clock import boot_id  # the same id the queue uses (KIOSK_BOOT_ID=%b)

    return boot_id()


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    if not (pin.isdigit() and 6 <= len(pin) <= 12):
        raise ValueError("a technician PIN has 6 to 12 digits")
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=64 * 1024 * 1024, dklen=SCRYPT_LEN)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt$n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}${b64(salt)}${b64(digest)}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, params, salt_b64, digest_b64 = stored.split("$")
        p = dict(kv.split("=") for kv in params.split(","))
        if scheme != "scrypt":
            return False
        salt, want = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        got = hashlib.scrypt(pin.encode(), salt=salt, n=int(p["n"]), r=int(p["r"]), p=int(p["p"]),
                             maxmem=64 * 1024 * 1024, dklen=len(want))
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(got, want)


class PinResult(str, Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    NO_PIN_SET = "no_pin_set"


@dataclass(frozen=True)
class PinOutcome:
    result: PinResult
    attempts_left: int = 0
    locked_for_s: float = 0.0


class GestureDetector:
    """N taps in the top-left corner within a window open the technician PIN prompt."""

    def __init__(self, taps: int, window_s: float, corner_px: int) -> None:
        self.taps, self.window_s, self.corner_px = taps, window_s, corner_px
        self._times: list[float] = []

    def tap(self, pos: tuple[int, int], now: float) -> bool:
        if pos[0] > self.corner_px or pos[1] > self.corner_px:
            self._times.clear()
            return False
        self._times = [t for t in self._times if now - t <= self.window_s] + [now]
        if len(self._times) >= self.taps:
            self._times.clear()
            return True
        return False


class MaintenanceAccess:
    """Who may open the menu, and when.

    The lockout runs on the monotonic clock, never the wall clock (which NTP, fake-hwclock or a
    `date -s` can move), plus a count persisted beside the audit log: a UI restart within one
    boot finds the same deadline; after a reboot, when the monotonic clock has started again,
    the lockout starts again in full. The tamper timer uses the injected monotonic clock too."""

    def __init__(self, audit: AuditLog, pin_hash: Callable[[], str], max_failures: int,
                 lockout_s: float, tamper_s: float, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 boot_id: Callable[[], str] | None = None) -> None:
        self.audit = audit
        self._pin_hash = pin_hash
        self.max_failures, self.lockout_s, self.tamper_s = max_failures, lockout_s, tamper_s
        self.wall = wall  # only to read a lockout written by an older version
        self.monotonic = monotonic
        self.boot_id = boot_id or _boot_id
        self.door_opened_at: float | None = None
        self.door_authorised = False
        self.tamper = False
        self.on_tamper: list[Callable[[], None]] = []

    def request(self, via: str) -> None:
        self.audit.append("maintenance_request", via=via)

    def locked_for(self) -> float:
        """Seconds the menu stays locked (0 when it is not), settling a lock from another boot."""
        now, boot = self.monotonic(), self.boot_id()
        failures, until, locked_boot = self.audit.lockout()
        if until <= 0:
            return 0.0
        if locked_boot == "" and until <= self.wall():
            until = 0.0  # written on wall time by an older version, and over
        elif locked_boot != boot:
            # Another boot's monotonic deadline means nothing now: start again in full.
            until = now + self.lockout_s
            self.audit.set_lockout(failures, until, boot)
            self.audit.append("maintenance_lock_restarted", seconds=int(self.lockout_s))
            log.warning("event=maintenance_lock_restarted seconds=%d", self.lockout_s)
        if until > now:
            return until - now
        self.audit.set_lockout(0, 0.0, boot)
        return 0.0

    def try_pin(self, pin: str) -> PinOutcome:
        remaining = self.locked_for()
        if remaining > 0:
            self.audit.append("maintenance_pin_refused", reason="locked")
            return PinOutcome(PinResult.LOCKED, 0, remaining)
        failures, _, _ = self.audit.lockout()
        stored = self._pin_hash()
        if not stored:
            self.audit.append("maintenance_pin_refused", reason="no_pin_set")
            return PinOutcome(PinResult.NO_PIN_SET)
        if verify_pin(pin, stored):
            self.audit.set_lockout(0, 0.0, self.boot_id())
            self.audit.append("maintenance_enter")
            self.door_authorised = self.door_opened_at is not None
            return PinOutcome(PinResult.OK)
        failures += 1
        if failures >= self.max_failures:
            self.audit.set_lockout(failures, self.monotonic() + self.lockout_s, self.boot_id())
            self.audit.append("maintenance_locked", failures=failures, seconds=int(self.lockout_s))
            log.warning("event=maintenance_locked failures=%d seconds=%d", failures, self.lockout_s)
            return PinOutcome(PinResult.LOCKED, 0, self.lockout_s)
        self.audit.set_lockout(failures, 0.0, self.boot_id())
        self.audit.append("maintenance_pin_wrong", failures=failures)
        return PinOutcome(PinResult.WRONG, self.max_failures - failures)

    # --- the service door
    def door_opened(self, now: float) -> None:
        self.door_opened_at, self.door_authorised = now, False
        self.audit.append("door_opened")

    def door_closed(self) -> None:
        self.door_opened_at, self.door_authorised = None, False
        self.audit.append("door_closed")

    def check_tamper(self, now: float) -> bool:
        """Raise the tamper alert once when the door stays open without a valid PIN."""
        if (self.door_opened_at is not None and not self.door_authorised and not self.tamper
                and now - self.door_opened_at >= self.tamper_s):
            self.tamper = True
            self.audit.append("tamper_alert", open_s=int(now - self.door_opened_at))
            log.error("event=tamper_alert open_s=%d", now - self.door_opened_at)
            for callback in self.on_tamper:
                callback()
        return self.tamper

    def clear_tamper(self) -> None:
        if self.tamper:
            self.tamper = False
            self.audit.append("tamper_cleared")


class MaintenanceContext:
    """Everything the maintenance screens need, built once by the composition root."""

    def __init__(self, cfg_loader: Callable[[], Config], audit: AuditLog, diagnostics: Diagnostics,
                 gpio: object, corner_px: int = 160) -> None:
        self._loader = cfg_loader
        self._cfg = cfg_loader()
        self.audit = audit
        self.diagnostics = diagnostics
        self.gpio = gpio
        cfg = self._cfg
        self.access = MaintenanceAccess(audit, lambda: self._cfg["maintenance.pin_hash"],
                                        cfg["maintenance.max_failures"], cfg["maintenance.lockout_s"],
                                        cfg["maintenance.tamper_s"])
        self.gesture = GestureDetector(cfg["maintenance.gesture_taps"], cfg["maintenance.gesture_window_s"],
                                       corner_px)
        self.on_config_change: list[Callable[[Config], None]] = []
        self.last_error = ""

    def cfg(self) -> Config:
        return self._cfg

    def reload(self) -> Config:
        """Re-read every layer (a pushed bureau file changed); keeps the old one on a bad file."""
        from kiosk import config

        try:
            self._cfg = self._loader()
        except config.ConfigError as exc:
            log.error("event=config_reload_refused problem=%s", exc)
        return self._cfg

    def idle_s(self) -> float:
        return self._cfg["maintenance.idle_s"]

    def door_open(self) -> bool:
        return bool(getattr(self.gpio, "door_open", False))

    def save_setting(self, name: str, raw: str) -> str:
        """Validate, save atomically to the technician layer, reload, apply. Returns a message id."""
        from kiosk import config

        LIVE = {"ui.language", "ui.care_mode", "session.inactivity_s", "session.countdown_s",
                "maintenance.idle_s", "ui.dim_after_s", "log.level", "sync.query_timeout_s"}
        old = self._cfg[name]
        try:
            config.save_technician_settings(self._cfg.data_dir, {name: raw})
            fresh = self._loader()
        except config.ConfigError as exc:
            self.last_error = exc.problem
            self.audit.append("setting_refused", key=name, problem=exc.problem)
            return "settings.error"
        self._cfg = fresh
        self.audit.append("setting_changed", key=name, old=old, new=fresh[name], layer=fresh.sources[name])
        if fresh.sources[name] == "env":
            return "settings.overridden"
        for callback in self.on_config_change:
            callback(fresh)
        return "settings.applied" if name in LIVE else "settings.after_restart"
