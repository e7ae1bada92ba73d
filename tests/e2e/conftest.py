"""The whole kiosk against every simulator: the card emulator over PC/SC, the bureau over mutual
TLS behind the real sync daemon, the printer over TCP. The UI is driven by injected touches."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygame
import pytest

from kiosk import config
from kiosk.app import build
from kiosk.runtime.clock import FakeClock
from simulators.printer import PrinterSimulator
from tests.bureau_harness import Bureau
from tests.conftest import ARTIFACTS, CARD_READER, PSAM_READER, Stack


@dataclass
class Sims:
    card: Stack
    bureau: Bureau
    printer: Any
    daemon: subprocess.Popen
    env: dict[str, str]
    out: Path

    def submissions(self) -> list[dict]:
        return self.bureau.admin("GET", "/submissions")["items"]

    def wait_submission(self, reference: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.submissions():
                if item.get("reference") == reference:
                    return item
            time.sleep(0.2)
        raise AssertionError(f"{reference} never reached the bureau")


def _start_daemon(env: dict[str, str], out: Path) -> subprocess.Popen:
    sock = Path(env["KIOSK_SYNC_SOCKET_PATH"])
    sock.unlink(missing_ok=True)
    log = open(out / "sync.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "sync", "run"], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while not sock.exists():
        assert proc.poll() is None, f"sync daemon exited; see {out / 'sync.log'}"
        assert time.monotonic() < deadline, "sync daemon did not start"
        time.sleep(0.05)
    return proc


@pytest.fixture(scope="session")
def sims(tmp_path_factory: pytest.TempPathFactory, card_stack: Stack) -> Iterator[Sims]:
    out = tmp_path_factory.mktemp("e2e")
    bureau = Bureau(out / "bureau", out / "bureau.ready.json")
    bureau.start()
    printer = PrinterSimulator("127.0.0.1", 0, out / "receipts", width_dots=384)
    printer.start()
    state = out / "bureau"
    env = {**os.environ,
           "KIOSK_DATA_DIR": str(out / "data"), "KIOSK_ID": "KIOSK-0001",
           "KIOSK_SYNC_BUREAU_URL": f"https://127.0.0.1:{bureau.info['port']}",
           "KIOSK_SYNC_CA_FILE": str(state / "server-ca.pem"),  # the bureau's server CA only
           "KIOSK_SYNC_CERT_FILE": str(state / "kiosk-KIOSK-0001.pem"),
           "KIOSK_SYNC_KEY_FILE": str(state / "kiosk-KIOSK-0001.key"),
           "KIOSK_SYNC_BUREAU_PUBLIC_KEY_FILE": str(state / "bureau-hpke-public.pem"),
           "KIOSK_SYNC_SOCKET_PATH": str(out / "sync.sock"),
           "KIOSK_SYNC_IDLE_POLL_S": "0.2", "KIOSK_SYNC_BACKOFF_BASE_S": "0.2", "KIOSK_SYNC_BACKOFF_MAX_S": "2"}
    daemon = _start_daemon(env, out)
    sims = Sims(card_stack, bureau, printer, daemon, env, out)
    yield sims
    daemon.terminate()
    daemon.wait(timeout=10)
    printer.stop()
    bureau.stop()


@dataclass
class Kiosk:
    sims: Sims
    kiosk: Any
    clock: FakeClock
    cfg: config.Config
    shots: Path

    @property
    def ui(self) -> Any:
        return self.kiosk.ui

    def frame(self) -> None:
        self.ui.frame([])

    def until(self, cond: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        refreshed = 0.0
        while not cond():
            now = time.monotonic()
            if now > deadline:
                raise AssertionError(f"timed out waiting for {what or cond}; screen={self.ui.screen.name} "
                                     f"{getattr(self.ui.screen, 'heading', '')}")
            if now - refreshed > 0.5:  # the health monitor thread is not running in tests
                self.kiosk.health.refresh()
                refreshed = now
            self.frame()
            time.sleep(0.02)
        self.frame()

    def screen(self, name: str, timeout: float = 20) -> Any:
        self.until(lambda: self.ui.screen.name == name, timeout, f"screen {name}")
        return self.ui.screen

    def tap(self, name: str) -> None:
        for b in self.ui._tap_targets():
            if b.name == name and b.enabled:
                self.ui.tap(b.rect.center)
                self.frame()
                return
        raise AssertionError(f"no enabled button {name!r} on {self.ui.screen.name}: "
                             f"{[b.name for b in self.ui._tap_targets()]}")

    def type(self, digits: str) -> None:
        for ch in digits:
            self.tap(f"key-{ch}")

    def shot(self, name: str) -> None:
        self.frame()
        self.shots.mkdir(parents=True, exist_ok=True)
        self.ui.screenshot(str(self.shots / f"{self.ui.lang}-{self.ui.surface.get_width()}x"
                                              f"{self.ui.surface.get_height()}-{name}.png"))

    def texts(self) -> set[str]:
        self.frame()
        return set(self.ui.text.rendered)


@pytest.fixture
def make_kiosk(sims: Sims, tmp_path: Path) -> Iterator[Callable[..., Kiosk]]:
    made: list[Kiosk] = []

    def make(lang: str = "zh_CN", size: tuple[int, int] = (1920, 1080), **env_extra: str) -> Kiosk:
        pygame.font.init()
        env = {**sims.env, "KIOSK_READER": "sim", "KIOSK_CARD_READER_NAME": CARD_READER,
               "KIOSK_CARD_PSAM_READER_NAME": PSAM_READER, "KIOSK_PRINTER": f"tcp:127.0.0.1:{sims.printer.port}",
               "KIOSK_GPIO": "mock", "KIOSK_CAMERA": "synthetic", "KIOSK_UI_LANGUAGE": lang,
               "KIOSK_CONFIG": "", **env_extra}
        cfg = config.load(None, environ=env)
        clock = FakeClock()
        kiosk = build(cfg, pygame.Surface(size), clock=clock, start_monitor=False,
                      cfg_loader=lambda: config.load(None, environ=env))
        k = Kiosk(sims, kiosk, clock, cfg, ARTIFACTS / "flows")
        made.append(k)
        k.until(lambda: k.ui.health.get("bureau") is not None and k.ui.health["bureau"].usable, 20, "bureau online")
        return k

    yield make
    sims.card.ctl("REMOVE")
    sims.card.ctl("RESET-STATE")
    if made:  # pcscd polls every 400 ms: until it has seen the card leave, for the next test
        from tests.flows.conftest import settle

        settle(made[-1].ui.desk, present=False)
    else:
        time.sleep(1.0)
    for k in made:
        k.kiosk.close()
