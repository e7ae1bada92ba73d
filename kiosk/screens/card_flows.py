"""Card screens and flows: insert the card, the PIN, a new PIN twice, activation, change of PIN,
and "take your card" (with a reminder when it is forgotten)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pygame

from kiosk.card.errors import CardNotGenuine, PinBlocked, WrongPin
from kiosk.card.pin import new_pin_problem
from kiosk.flows.card_return import CardReturn, Due
from kiosk.screens.base import Screen
from kiosk.screens.common import ResultScreen
from kiosk.screens.entry import PinEntryScreen
from kiosk.screens.steps import run_step, show_error, show_message
from kiosk.screens.theme import COLORS
from kiosk.services.card_service import CardService
from kiosk.services.desk import CardLeftBehind  # noqa: F401  (old flows name it here)
from kiosk.services.queries import Assurance

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

log = logging.getLogger(__name__)


def card_service(ui: UI) -> CardService:
    return ui.desk.card


def draw_card_slot(ui: UI, surf: pygame.Surface, center: tuple[int, int], arrow_in: bool, phase: float) -> None:
    """A card above a slot and an arrow showing which way it moves (in or out)."""
    th = ui.theme
    cx, cy = center
    slot = pygame.Rect(0, 0, th.px(420), th.px(36))
    slot.center = (cx, cy + th.px(150))
    pygame.draw.rect(surf, COLORS["text"], slot, border_radius=th.px(10))
    offset = int((phase % 1.0) * th.px(60)) * (1 if arrow_in else -1)
    card = pygame.Rect(0, 0, th.px(320), th.px(200))
    card.midbottom = (cx, slot.top + th.px(10) + offset)
    pygame.draw.rect(surf, COLORS["primary"], card, border_radius=th.px(16))
    chip = pygame.Rect(card.x + th.px(36), card.y + th.px(60), th.px(64), th.px(50))
    pygame.draw.rect(surf, (224, 190, 90), chip, border_radius=th.px(6))
    tip = (cx + th.px(260), slot.top - th.px(20) if arrow_in else card.top - th.px(20))
    direction = 1 if arrow_in else -1
    pygame.draw.line(surf, COLORS["text"], (tip[0], tip[1] - direction * th.px(90)), tip, th.px(8))
    pygame.draw.polygon(surf, COLORS["text"], [(tip[0] - th.px(24), tip[1] - direction * th.px(24)),
                                               (tip[0] + th.px(24), tip[1] - direction * th.px(24)),
                                               (tip[0], tip[1] + direction * th.px(6))])


class InsertCardScreen(Screen):
    """Waits for a card (on a worker) and reads it; the countdown is the card.wait_s timeout."""

    name = "insert_card"
    title_key = "card.insert.bar"

    def __init__(self, ui: UI, on_read: Callable[[Any], None] | None, wait_s: float | None = None,
                 message: str = "") -> None:
        """on_read None: a flow's WaitForCard step, read by the flow's work; this only draws."""
        super().__init__(ui)
        self.on_read = on_read
        self.started = ui.clock.monotonic()
        self.wait_s = wait_s if wait_s is not None else ui.services.cfg["card.wait_s"]
        self.message = message if message and message != "wait.body" else "card.insert.title"
        self.reading = False
        if on_read is not None:
            session = ui.sessions.session.token if ui.sessions.session else 0
            ui.workers.submit("insert_card", ui.desk.read_card, session=session, on_done=self._done)

    def _done(self, job: Any) -> None:
        if self.ui.screen is not self:
            return
        if job.error is not None:
            show_error(self.ui, job.error, retry=lambda: self.ui.show(InsertCardScreen(self.ui, self.on_read),
                                                                       replace=True))
            return
        assert self.on_read is not None
        self.on_read(job.result())

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        now = ui.clock.monotonic()
        y = ui.draw_text(surf, self.message, "title", COLORS["text"], pygame.Rect(a.x, a.y, a.width, th.px(90)),
                         1, bold=True)
        ui.draw_text(surf, "card.insert.body", "body", COLORS["text"], pygame.Rect(a.x, y + th.px(10), a.width,
                     th.px(100)), 2)
        draw_card_slot(ui, surf, (a.centerx, a.centery + th.px(40)), True, now - self.started)
        left = max(0, int(self.wait_s - (now - self.started) + 0.999))
        ui.draw_text(surf, "card.insert.countdown", "body", COLORS["muted"],
                     pygame.Rect(a.x, a.bottom - th.px(60), a.width, th.px(60)), 1, seconds=left)


class TakeCardScreen(Screen):
    """'Take your card': waits for the card to leave; a forgotten card sounds the buzzer."""

    name = "take_card"
    title_key = "card.take.bar"
    in_session = False  # the personal part is over; the session was already wiped

    def __init__(self, ui: UI) -> None:
        super().__init__(ui)
        self.started = ui.clock.monotonic()
        self.policy = CardReturn(ui.desk.settings.card_forgotten_s)
        self._poll: Any = None  # the worker job asking whether the card is still in

    def update(self, now: float) -> None:
        present: bool | None = None
        if self._poll is None or self._poll.done:
            if self._poll is not None and not self._poll.error:
                present = bool(self._poll.result())
            self._poll = self.ui.workers.submit("card_present", self.ui.desk.card_present)
        due = self.policy.due(now - self.started, present)
        if due is Due.TAKEN:
            self.ui.desk.end_card()
            log.info("event=card_taken")
            self.ui.go_home("card_taken")
        elif due is Due.REMIND:
            log.info("event=card_forgotten seconds=%.0f", self.policy.forgotten_s)
            self.ui.desk.remind_card()
            if self.ui.voice is not None:
                self.ui.voice.say("card.take.forgotten", self.ui.lang)
        elif due is Due.LEFT_BEHIND:
            log.warning("event=card_left_behind")
            self.ui.desk.card_left_behind(now)
            self.ui.go_home("card_left")

    @property
    def reminded(self) -> bool:
        return self.policy.reminded

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        key = "card.take.forgotten" if self.reminded else "card.take.title"
        ui.draw_text(surf, key, "title", COLORS["danger"] if self.reminded else COLORS["text"],
                     pygame.Rect(a.x, a.y, a.width, th.px(180)), 2, bold=True)
        draw_card_slot(ui, surf, (a.centerx, a.centery + th.px(40)), False, ui.clock.monotonic() - self.started)


class WaitCardScreen(Screen):
    """Waits for the card to be taken out (or put in) without reading it: for swapping cards."""

    name = "swap_card"
    title_key = "card.adopt.bar"

    def __init__(self, ui: UI, message: str, want_present: bool, then: Callable[[], None] | None) -> None:
        """then None: a flow's SwapCard step, waited for by the flow's work; this only draws."""
        super().__init__(ui)
        self.message, self.want_present, self.then = message, want_present, then
        self.started = ui.clock.monotonic()
        self._poll: Any = None
        self.done = False

    def update(self, now: float) -> None:
        if self.done or self.then is None:
            return
        if self._poll is not None and self._poll.done:
            if not self._poll.error and self._poll.result() == self.want_present:
                self.done = True
                card_service(self.ui).end()  # the next card gets a fresh session
                self.then()
                return
            self._poll = None
        if self._poll is None:
            session = self.ui.sessions.session.token if self.ui.sessions.session else 0
            self._poll = self.ui.workers.submit("card_present", card_service(self.ui).card_present, session=session)

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        ui.draw_text(surf, self.message, "title", COLORS["text"], pygame.Rect(a.x, a.y, a.width, th.px(200)), 3,
                     bold=True)
        draw_card_slot(ui, surf, (a.centerx, a.centery + th.px(60)), self.want_present,
                       ui.clock.monotonic() - self.started)


def after_receipt(ui: UI, title: str, body: str, reference: str, doc_builder: Callable[[], Any] | None,
                  kind: str = "ok", card: bool = True, **fields: Any) -> None:
    """Print the receipt (on a worker), then show the result whatever the printer did."""

    def show(outcome: Any) -> None:
        note = "result.receipt_printed" if outcome is not None and outcome.printed else (
            outcome.reason_key if outcome is not None else "")
        def take_card() -> None:
            ui.sessions.end("finish")
            ui.show(TakeCardScreen(ui))

        finish = take_card if card else None
        ui.show(ResultScreen(ui, title, body, reference=reference, kind=kind, receipt_note=note,
                             on_finish=finish, **fields), replace=True)

    if doc_builder is None:
        show(None)
        return
    run_step(ui, "receipt.printing", lambda: ui.services.printing.print_receipt(doc_builder()),
             on_ok=show, on_error=lambda e: show(None), timeout_s=30, name="print")


def receipt_context(ui: UI) -> Any:
    import datetime as dt

    from kiosk.services.receipts import ReceiptContext

    return ReceiptContext.from_config(ui.services.cfg, ui.lang, dt.datetime.now())


# ---------------------------------------------------------------------------------------- PIN
def ask_pin(ui: UI, prompt_title: str, then: Callable[[str], None], initial_hint: bool = False) -> None:
    """Ask for the card's PIN and verify it; wrong PINs show attempts left, a blocked PIN ends."""
    service = card_service(ui)

    def entered(pin: bytearray, left: int | None = None) -> None:
        text = pin.decode()
        pin[:] = b"\0" * len(pin)
        run_step(ui, "card.pin.checking", service.verify_pin, text, on_ok=lambda _r: then(text),
                 on_error=failed, timeout_s=20, name="verify_pin")

    def failed(exc: BaseException) -> None:
        if isinstance(exc, WrongPin):
            screen = PinEntryScreen(ui, entered, attempts_left=exc.retries_left, message="card.pin.wrong")
            screen.title_key = prompt_title
            ui.show(screen, replace=True)
        elif isinstance(exc, PinBlocked):
            show_message(ui, "card.error.pin_blocked.title", "card.error.pin_blocked.body", retry=None)
        else:
            show_error(ui, exc)

    screen = PinEntryScreen(ui, entered, hint="card.pin.initial_hint" if initial_hint else "")
    screen.title_key = prompt_title
    ui.show(screen, replace=ui.screen.name in ("insert_card", "wait", "message"))


def ask_new_pin(ui: UI, id_number: str, then: Callable[[str], None], problem: str = "") -> None:
    """A new PIN twice; rules: six digits, not all equal, not a straight run, not from the ID number."""

    def first(pin: bytearray) -> None:
        text = pin.decode()
        pin[:] = b"\0" * len(pin)
        bad = new_pin_problem(text, id_number)
        if bad:
            ask_new_pin(ui, id_number, then, bad)
            return

        def second(again: bytearray) -> None:
            same = again.decode() == text
            again[:] = b"\0" * len(again)
            if not same:
                ask_new_pin(ui, id_number, then, "pin.problem.mismatch")
                return
            then(text)

        s2 = PinEntryScreen(ui, second)
        s2.title_key = "card.new_pin.again_title"
        ui.show(s2, replace=True)

    s1 = PinEntryScreen(ui, first, message=problem)
    s1.title_key = "card.new_pin.title"
    ui.show(s1, replace=ui.screen.name in ("pin_entry", "wait", "message"))


def authenticate_card(ui: UI, then: Callable[[Any], None]) -> None:
    """The card proves it is genuine (INTERNAL AUTHENTICATE, checked by the PSAM and the bureau)
    before anything it says is trusted; `then` gets the CardProof. A card that cannot is refused
    on the spot with a plain message and no retry."""
    cfg = ui.services.cfg
    timeout = float(cfg["sync.query_timeout_s"])

    def work() -> Any:
        from kiosk.hw.reader_pcsc import open_psam_reader

        psam = open_psam_reader(cfg, sim=cfg["devices.reader"] == "sim")
        try:
            return card_service(ui).authenticate(ui.services.sync.query, psam, timeout)
        finally:
            if psam is not None:
                psam.close()

    def failed(exc: BaseException) -> None:
        if isinstance(exc, CardNotGenuine):
            show_message(ui, "card.error.not_genuine.title", "card.error.not_genuine.body", retry=None)
        else:
            show_error(ui, exc, retry=lambda: authenticate_card(ui, then))

    run_step(ui, "card.auth.checking", work, on_ok=then, on_error=failed, timeout_s=2 * timeout + 10,
             name="card_auth")


def identify_by_card(ui: UI, then: Callable[[Any, Assurance], None]) -> None:
    """Card + PIN + the card's proof that it is genuine: the strong identification of DESIGN.md.
    Gives the card identity and the assurance."""

    def read(identity: Any) -> None:
        ui.sessions.current().remember("card", identity)
        authenticate_card(ui, lambda proof: ask_pin(ui, "card.pin.title",
                                                    lambda _pin: then(identity, proof.assurance())))

    ui.show(InsertCardScreen(ui, read))
