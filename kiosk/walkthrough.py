"""A scripted walk through the kiosk without a display: what `make run` does on a headless
machine. It drives the real UI on the simulated devices `make run` started (card over pcscd and
vpcd, synthetic camera, printer over TCP, bureau behind the sync daemon) with injected touches and
an injected clock, and saves a screenshot of each step. Nothing is skipped quietly: a part that
cannot run is reported with its reason and the walk ends with a non-zero exit."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygame

from kiosk.config import Config
from kiosk.runtime.clock import FakeClock

log = logging.getLogger(__name__)

SAMPLE_ID = "11010519491231002X"  # a valid number from the GB 11643 examples, not a real person
SIM_CARD_PERSONA = "activated"  # the card the card simulator holds at start
SIM_CARD_PIN = "258147"  # ... and its PIN
# a contributor still paying in (a retiree has no recent contributions), whose card answers 61xx
QUERY_PERSONA, QUERY_PIN = "answers_61xx", "741852"
DEVICES = ("reader", "camera", "printer", "bureau", "outbox")  # what the walk needs, by health name
EXIT_WALK_FAILED = 1


class WalkFailed(Exception):
    """A part of the walk could not run; the message is the reason a newcomer reads."""


class CardHand:
    """The citizen's hand: takes the card out of the simulated reader and puts it back, over the
    card simulator's control port (`make run` exports it as KIOSK_SIM_CARD_CONTROL)."""

    def __init__(self, port: str | None) -> None:
        self.port = int(port) if port else None

    def _send(self, line: str) -> None:
        if self.port is None:
            raise WalkFailed("the card simulator's control port is not known (run through `make run`)")
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as conn:
            conn.sendall(line.encode() + b"\n")
            reply = conn.makefile("r", encoding="utf-8").readline().strip()
        if not reply.startswith("OK"):
            raise WalkFailed(f"card simulator refused {line!r}: {reply}")

    def take_out(self) -> None:
        self._send("REMOVE")
        time.sleep(1.0)  # pcscd polls every 400 ms: let the kiosk see the card leave

    def insert(self, persona: str = SIM_CARD_PERSONA) -> None:
        self._send(f"INSERT {persona}")


class Walk:
    def __init__(self, ui: Any, clock: FakeClock, out: Path, refresh: Callable[[], dict[str, Any]],
                 hand: CardHand) -> None:
        self.ui, self.clock, self.out, self.refresh, self.hand = ui, clock, out, refresh, hand
        self.shots: list[Path] = []
        self.failed: list[str] = []
        self.screenshots = True

    def shot(self, name: str) -> None:
        if not self.screenshots:
            return
        self.ui.frame([])
        path = self.out / f"{len(self.shots) + 1:02d}-{name}.png"
        self.ui.screenshot(str(path))
        self.shots.append(path)

    def tap(self, name: str) -> None:
        for b in self.ui._tap_targets():
            if b.name == name and b.enabled:
                self.ui.tap(b.rect.center)
                self.ui.frame([])
                return
        names = [b.name for b in self.ui._tap_targets()]
        raise WalkFailed(f"no usable button {name!r} on screen {self.ui.screen.name} (has {names})")

    def type(self, text: str) -> None:
        for ch in text:
            self.tap(f"key-{ch}")

    def until(self, screen: str, timeout: float = 20.0) -> Any:
        """Let worker threads (card, bureau, printer, camera) finish in real time while the loop runs."""
        deadline = time.monotonic() + timeout
        refreshed = 0.0
        while self.ui.screen.name != screen:
            now = time.monotonic()
            if now > deadline:
                heading = getattr(self.ui.screen, "heading", "")
                raise WalkFailed(f"waited {timeout:.0f} s for screen {screen}, still on "
                                 f"{self.ui.screen.name} {heading}".rstrip())
            if now - refreshed > 0.5:  # no health monitor thread in the walk: refresh by hand
                self.refresh()
                refreshed = now
            self.ui.frame([])
            time.sleep(0.02)
        self.ui.frame([])
        return self.ui.screen

    def expect(self, what: str, ok: bool, detail: str) -> None:
        if not ok:
            raise WalkFailed(f"{what}: {detail}")

    def part(self, name: str, steps: Callable[[], None]) -> None:
        try:
            steps()
        except Exception as exc:  # reported and counted: the exit code says the walk failed
            reason = str(exc) if isinstance(exc, WalkFailed) else f"{type(exc).__name__}: {exc}"
            log.warning("event=walkthrough_failed part=%s reason=%r", name, reason)
            self.failed.append(f"{name}: {reason}")
            self.shot(f"{name}-stopped-here")
        self.ui.go_home()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _preflight(walk: Walk) -> None:
    """Every simulated device the walk needs must be up; its reason is the failure otherwise."""
    deadline = time.monotonic() + 20  # the sync daemon's first heartbeat may still be on its way
    while True:
        health = walk.refresh()
        down = {n: h for n in DEVICES if (h := health.get(n)) is None or not h.usable}
        # only the bureau comes up late (the daemon's first heartbeat); a missing device does not
        if set(down) <= {"bureau"} and down and time.monotonic() < deadline:
            time.sleep(0.25)
            continue
        break
    reasons = [f"{n}: {h.detail or h.reason}" if h else f"{n}: not configured" for n, h in down.items()]
    walk.expect("devices not ready", not down, "; ".join(reasons))
    walk.ui.frame([])  # the UI reads the fresh health before home is laid out again


def walkthrough(cfg: Config, out: Path, size: tuple[int, int] = (1920, 1080), repeat: int = 0) -> list[Path]:
    """Walk, print the screenshot paths, write `out/walkthrough.json`; SystemExit(1) on a failure.
    `repeat` runs the pension journey that many more times without screenshots (the memory bench)."""
    from kiosk.app import build

    pygame.font.init()
    out.mkdir(parents=True, exist_ok=True)
    if cfg["devices.camera"] == "synthetic":  # the walk's clock is virtual: so is the subject's
        cfg = cfg.with_overrides({"devices.camera": "synthetic:realtime=0"})
    clock = FakeClock()
    kiosk = build(cfg, pygame.Surface(size), clock=clock, start_monitor=False)
    walk = Walk(kiosk.ui, clock, out, kiosk.health.refresh, CardHand(os.environ.get("KIOSK_SIM_CARD_CONTROL")))
    stats: dict[str, Any] = {"repeats": repeat, "rss_mb": None, "rss_mb_after_repeats": None}
    try:
        walk.part("devices", lambda: _preflight(walk))
        if not walk.failed:
            for name, steps in parts(walk, cfg):
                walk.part(name, steps)
        stats["rss_mb"] = round(_rss_mb(), 1)
        if repeat and not walk.failed:
            walk.screenshots = False
            for i in range(repeat):
                walk.part(f"pension-repeat-{i + 1}", lambda: pension(walk))
                if walk.failed:
                    break
            stats["rss_mb_after_repeats"] = round(_rss_mb(), 1)
    finally:
        kiosk.close()
    stats["failed"] = walk.failed
    stats["screenshots"] = [str(p) for p in walk.shots]
    (out / "walkthrough.json").write_text(json.dumps(stats, indent=2) + "\n")
    if walk.failed:
        for path in walk.shots:
            print(path)
        lines = "\n".join(f"  {line}" for line in walk.failed)
        raise SystemExit(f"kiosk: the walkthrough failed ({len(walk.failed)} part(s)):\n{lines}")
    return walk.shots


def parts(walk: Walk, cfg: Config) -> list[tuple[str, Callable[[], None]]]:
    return [("home", lambda: home(walk)), ("pension", lambda: pension(walk, shots=True)),
            ("contributions", lambda: contributions(walk)), ("id-keypad", lambda: id_keypad(walk, cfg)),
            ("maintenance", lambda: maintenance(walk, cfg))]


def home(walk: Walk) -> None:
    disabled = [b.name for b in walk.ui._tap_targets() if b.name.startswith("tile-") and not b.enabled]
    walk.expect("home", not disabled, f"tiles not usable: {', '.join(disabled)}")
    walk.shot("home-zh")
    walk.tap("lang")
    walk.shot("home-en")
    walk.tap("care")
    walk.shot("home-en-care-mode")
    walk.tap("care")
    walk.tap("lang")
    walk.tap("staff")
    walk.shot("call-staff")


def card_and_pin(walk: Walk, shots: bool, pin: str = SIM_CARD_PIN) -> None:
    """Identify by the card in the reader and its PIN."""
    if walk.ui.screen.name == "identify":
        if shots:
            walk.shot("identify-choice")
        walk.tap("choice-card")
    walk.until("pin_entry")
    if shots:
        walk.shot("card-pin")
    walk.type(pin)
    walk.tap("confirm")


def finish_with_card(walk: Walk) -> None:
    walk.tap("finish")
    walk.until("take_card")
    walk.shot("take-card")
    walk.hand.take_out()
    walk.until("home", timeout=15)
    walk.hand.insert()  # ready for the next citizen journey of the walk


def pension(walk: Walk, shots: bool = False) -> None:
    """Pension qualification authentication: card + PIN, residence, consent, liveness on the
    synthetic camera, four pictures, the bureau's face match, submission acknowledged, receipt."""
    walk.tap("tile-pension_auth")
    walk.until("identify")
    card_and_pin(walk, shots)
    walk.until("residence", timeout=20)
    walk.shot("pension-residence")
    walk.tap("choice-local")
    walk.until("consent")
    walk.shot("pension-consent")
    walk.tap("consent_agree")
    walk.until("liveness")
    for _ in range(3):  # a few frames in, so the picture shows the face and its guidance
        walk.ui.frame([])
        time.sleep(0.2)
    walk.shot("pension-liveness")
    pictures = walk.until("pictures", timeout=90)
    walk.expect("liveness", len(pictures.pictures) == 4, f"{len(pictures.pictures)} pictures, not 4")
    walk.shot("pension-pictures")
    walk.tap("use_pictures")
    walk.until("confirm", timeout=40)
    walk.shot("pension-confirm")
    walk.tap("submit")
    result = walk.until("result", timeout=40)
    walk.shot("pension-result")
    walk.expect("pension submission", result.heading.endswith("_passed"), f"result {result.heading}")
    walk.expect("pension submission", result.body == "certify.done.passed_body",
                f"not acknowledged by the bureau ({result.body})")
    walk.expect("pension receipt", result.receipt_note == "result.receipt_printed",
                f"receipt not printed ({result.receipt_note})")
    log.info("event=walkthrough_pension_done reference=%s", result.reference)
    finish_with_card(walk)


def contributions(walk: Walk) -> None:
    """A card + PIN contributions query with its receipt printed."""
    walk.hand.insert(QUERY_PERSONA)
    time.sleep(1.0)  # pcscd polls every 400 ms: let it see the other card
    walk.tap("tile-payment_records")
    card_and_pin(walk, shots=False, pin=QUERY_PIN)
    walk.until("pick_insurance")
    walk.shot("pick-insurance")
    walk.tap("choice-pension")
    choose = walk.until("pick_year")
    walk.shot("pick-year")
    year = choose.choices[1].value
    walk.tap(f"choice-{year}")
    walk.until("records", timeout=30)
    walk.shot("contributions-table")
    walk.tap("print")
    deadline = time.monotonic() + 30
    while walk.ui.toast is None or walk.ui.screen.name != "records":
        walk.expect("contributions receipt", time.monotonic() < deadline, "no print outcome within 30 s")
        walk.ui.frame([])
        time.sleep(0.05)
    walk.shot("contributions-receipt-printed")
    walk.expect("contributions receipt", walk.ui.toast[0] == "result.receipt_printed",
                f"receipt not printed ({walk.ui.toast[0]})")
    finish_with_card(walk)


def id_keypad(walk: Walk, cfg: Config) -> None:
    from kiosk.screens import flows

    ui, clock = walk.ui, walk.clock
    ui.show(flows.IdEntryScreen(ui, lambda v: None))
    walk.type(SAMPLE_ID[:17] + "5")
    walk.shot("id-keypad-wrong-check-digit")
    walk.tap("key-back")
    walk.type("X")
    walk.shot("id-keypad-valid")
    clock.advance(cfg["session.inactivity_s"] + 1)
    ui.frame([])
    walk.shot("inactivity-prompt")
    clock.advance(cfg["session.countdown_s"])
    ui.frame([])
    walk.expect("inactivity timeout", ui.screen.name == "home", f"still on {ui.screen.name}")
    walk.shot("timeout-back-home")


def maintenance(walk: Walk, cfg: Config) -> None:
    for _ in range(cfg["maintenance.gesture_taps"]):
        walk.ui.tap((10, 10))
        walk.clock.advance(0.2)
    walk.ui.frame([])
    walk.expect("maintenance", walk.ui.screen.name != "home", "the corner gesture did not open the PIN pad")
    walk.shot("technician-pin")
