"""Builds the real UI on an off-screen surface with an injected clock and mock GPIO pins.

Reader and camera adapters that are not part of the foundation are represented by a
Switchable device whose health the test sets, standing where the registry would put them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pygame

from kiosk import config
from kiosk.app import build
from kiosk.hw.health import DeviceHealth
from kiosk.hw.registry import Devices, open_gpio
from kiosk.runtime.clock import FakeClock


class Switchable:
    def __init__(self, name: str) -> None:
        self.name = name
        self.state = DeviceHealth.ok()

    def health(self) -> DeviceHealth:
        return self.state

    def close(self) -> None:
        pass


@dataclass
class Harness:
    kiosk: Any
    clock: FakeClock
    devices: Devices
    cfg: config.Config
    shots: list[Path] = field(default_factory=list)

    @property
    def ui(self):
        return self.kiosk.ui

    def set_health(self, name: str, health: DeviceHealth) -> None:
        self.kiosk.health.overrides[name] = health
        self.ui.frame([])

    def frame(self) -> None:
        self.ui.frame([])

    def tap_button(self, name: str) -> None:
        for b in self.ui._tap_targets():
            if b.name == name:
                self.ui.tap(b.rect.center)
                self.ui.frame([])
                return
        raise AssertionError(f"no tappable button {name!r} on {self.ui.screen.name}: "
                             f"{[b.name for b in self.ui._tap_targets()]}")

    def open_id_entry(self) -> None:
        """The ID-number step as a citizen session starts it (the fallback a tile without a flow uses)."""
        from kiosk.screens import flows
        from kiosk.services.catalog import SERVICES

        self.ui.sessions.begin(self.clock.monotonic())
        self.ui.show(flows.entry_screen_for(self.ui, SERVICES[0]))
        self.ui.frame([])

    def settle(self, rounds: int = 400, each: Callable[[], None] | None = None) -> None:
        """Run frames until the UI's worker jobs (PIN checks, actions, stick tasks) are finished and
        picked up by the loop; `each` runs before every frame (a clock step, say)."""
        for _ in range(rounds):
            if each is not None:
                each()
            self.frame()
            if not self.ui.workers.pending():
                self.frame()
                return
            time.sleep(0.01)
        raise AssertionError(f"worker jobs did not finish: {self.ui.workers.pending()}")

    def type(self, text: str) -> None:
        for ch in text:
            self.tap_button(f"key-{ch}")

    def close(self) -> None:
        self.kiosk.close()


@cache
def _certificate() -> bytes:
    """A client certificate for the harness's kiosk: a kiosk without one is unprovisioned, and
    out of service (kiosk/services/stick_provision.py); tests of that name a missing file."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "KIOSK-0001")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def make_harness(tmp_path: Path, size: tuple[int, int] = (1920, 1080), lang: str = "zh_CN",
                 **overrides: Any) -> Harness:
    pygame.font.init()
    if "sync.cert_file" not in overrides:
        tmp_path.mkdir(parents=True, exist_ok=True)
        (tmp_path / "kiosk.pem").write_bytes(_certificate())
    values = {"devices.gpio": "mock", "devices.reader": "none", "devices.camera": "none",
              "devices.printer": "none", "kiosk.data_dir": str(tmp_path / "data"),
              "sync.cert_file": str(tmp_path / "kiosk.pem"),
              "ui.language": lang, "sync.socket_path": str(tmp_path / "no-daemon.sock"), **overrides}
    cfg = config.load(tmp_path / "absent.toml" if False else None, environ={}, overrides=values)
    gpio = open_gpio(cfg)
    devices = Devices(reader=Switchable("reader"), camera=Switchable("camera"),
                      printer=Switchable("printer"), gpio=gpio)
    devices.extra["bureau"] = Switchable("bureau")
    devices.extra["outbox"] = Switchable("outbox")
    clock = FakeClock()
    loader = lambda: config.load(None, environ={}, overrides=values)  # noqa: E731
    kiosk = build(cfg, pygame.Surface(size), clock=clock, devices=devices, start_monitor=False,
                  cfg_loader=loader)
    h = Harness(kiosk, clock, devices, cfg)
    h.frame()
    return h
