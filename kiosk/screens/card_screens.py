"""The card screens of a flow: a card going in (the flow's WaitForCard work reads it), a card
going out or back in unread (SwapCard), and "take your card" at the end, with a reminder when it is
forgotten and staff called when nobody comes back for it (kiosk.flows.card_return decides when)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pygame

from kiosk.flows.card_return import CardReturn, Due
from kiosk.screens.base import Screen
from kiosk.screens.theme import COLORS

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

log = logging.getLogger(__name__)


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


class WaitingScreen(Screen):
    """Something to bring to the kiosk (a card into the slot, an ID card onto the pad, a phone's
    QR code to the scanner): what to do, how, a moving picture of it, and the countdown of the
    flow's wait. Subclasses name the words and draw the picture."""

    title = ""
    body = ""
    body_lines = 2
    countdown = ""
    art_dy = 40  # where the picture sits below the middle, in 1080p pixels

    def __init__(self, ui: UI, wait_s: float) -> None:
        super().__init__(ui)
        self.started = ui.clock.monotonic()
        self.wait_s = wait_s

    def art(self, surf: pygame.Surface, center: tuple[int, int], phase: float) -> None:
        raise NotImplementedError

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        now = ui.clock.monotonic()
        y = ui.draw_text(surf, self.title, "title", COLORS["text"],
                         pygame.Rect(a.x, a.y, a.width, max(th.px(90), th.lines_h("title"))), 1, bold=True)
        n = self.body_lines + th.care_mode  # care mode's larger words: a line more
        ui.draw_text(surf, self.body, "body", COLORS["text"], pygame.Rect(a.x, y + th.px(10), a.width, th.lines_h("body", n)), n)
        self.art(surf, (a.centerx, a.centery + th.px(self.art_dy)), now - self.started)
        left = max(0, int(self.wait_s - (now - self.started) + 0.999))
        line = th.lines_h("body")
        ui.draw_text(surf, self.countdown, "body", COLORS["muted"],
                     pygame.Rect(a.x, a.bottom - line, a.width, line), 1, seconds=left)


class InsertCardScreen(WaitingScreen):
    """A card going into the slot (the flow's WaitForCard work reads it)."""

    name = "insert_card"
    title_key = "card.insert.bar"
    body, countdown = "card.insert.body", "card.insert.countdown"

    def __init__(self, ui: UI, wait_s: float, message: str = "") -> None:
        super().__init__(ui, wait_s)
        self.title = message if message and message != "wait.body" else "card.insert.title"

    def art(self, surf: pygame.Surface, center: tuple[int, int], phase: float) -> None:
        draw_card_slot(self.ui, surf, center, True, phase)


def draw_id_pad(ui: UI, surf: pygame.Surface, center: tuple[int, int], phase: float) -> None:
    """A resident ID card coming down flat onto the reader's pad (not into a slot)."""
    th = ui.theme
    cx, cy = center
    pad = pygame.Rect(0, 0, th.px(460), th.px(70))
    pad.center = (cx, cy + th.px(150))
    pygame.draw.rect(surf, COLORS["text"], pad, border_radius=th.px(14))
    drop = int((1.0 - (phase % 1.0)) * th.px(60))
    card = pygame.Rect(0, 0, th.px(340), th.px(214))
    card.midbottom = (cx, pad.top - th.px(12) - drop)
    pygame.draw.rect(surf, COLORS["surface"], card, border_radius=th.px(16))
    pygame.draw.rect(surf, COLORS["primary"], card, width=max(2, th.px(5)), border_radius=th.px(16))
    photo = pygame.Rect(card.right - th.px(110), card.y + th.px(36), th.px(80), th.px(100))
    pygame.draw.rect(surf, COLORS["tile_border"], photo, border_radius=th.px(6))
    for i in range(4):  # lines of text on the card
        pygame.draw.line(surf, COLORS["tile_border"], (card.x + th.px(30), card.y + th.px(50 + 34 * i)),
                         (photo.x - th.px(24), card.y + th.px(50 + 34 * i)), max(2, th.px(6)))


class PlaceIdCardScreen(WaitingScreen):
    """The resident ID card placed on the reader's pad (the flow's WaitForIdCard work reads it)."""

    name = "place_idcard"
    title_key = "idcard.place.bar"
    title, body, countdown = "idcard.place.title", "idcard.place.body", "idcard.place.countdown"

    def art(self, surf: pygame.Surface, center: tuple[int, int], phase: float) -> None:
        draw_id_pad(self.ui, surf, center, phase)


def draw_phone_qr(ui: UI, surf: pygame.Surface, center: tuple[int, int], phase: float) -> None:
    """A phone showing a QR code, moving towards the scanner window."""
    th = ui.theme
    cx, cy = center
    lift = int((phase % 1.0) * th.px(40))
    phone = pygame.Rect(0, 0, th.px(200), th.px(360))
    phone.center = (cx, cy - lift)
    pygame.draw.rect(surf, COLORS["text"], phone, border_radius=th.px(28))
    screen = phone.inflate(-th.px(28), -th.px(70))
    pygame.draw.rect(surf, COLORS["surface"], screen, border_radius=th.px(8))
    cell = max(2, (screen.width - th.px(24)) // 9)
    ox, oy = screen.centerx - 4 * cell - cell // 2, screen.centery - 4 * cell - cell // 2
    for i in range(9):  # a fixed pattern, in the manner of a QR code (it encodes nothing)
        for j in range(9):
            finder = (i < 3 and j < 3) or (i < 3 and j > 5) or (i > 5 and j < 3)
            if finder or (i * 7 + j * 3) % 5 < 2:
                pygame.draw.rect(surf, COLORS["text"], (ox + i * cell, oy + j * cell, cell, cell))


class ShowQrScreen(WaitingScreen):
    """The e-card's QR code held to the scanner, or the camera (the flow's ScanQr work reads it)."""

    name = "scan_qr"
    title_key = "ecard.scan.bar"
    title, body, countdown = "ecard.scan.title", "ecard.scan.body", "ecard.scan.countdown"
    body_lines, art_dy = 3, 90

    def art(self, surf: pygame.Surface, center: tuple[int, int], phase: float) -> None:
        frame = self.ui.desk.qr_preview() if getattr(self.ui, "desk", None) is not None else None
        if frame is None:  # a scanner reads it, or the camera's first frame is not in yet
            draw_phone_qr(self.ui, surf, center, phase)
            return
        # the camera's picture, mirrored, with a square where the code is read best
        from kiosk.screens.liveness import frame_surface

        th = self.ui.theme
        h = th.px(420)
        view = pygame.Rect(0, 0, h * frame.shape[1] // frame.shape[0], h)
        view.center = center
        self.preview_rect = view
        surf.blit(frame_surface(frame, view.size), view)
        aim = pygame.Rect(0, 0, h * 3 // 4, h * 3 // 4)
        aim.center = view.center
        pygame.draw.rect(surf, COLORS["primary"], aim, width=max(3, th.px(8)), border_radius=th.px(16))


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
    """A card to take out (or put back) unread, while the flow's SwapCard work waits for it."""

    name = "swap_card"
    title_key = "card.adopt.bar"

    def __init__(self, ui: UI, message: str, want_present: bool) -> None:
        super().__init__(ui)
        self.message, self.want_present = message, want_present
        self.started = ui.clock.monotonic()

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        ui.draw_text(surf, self.message, "title", COLORS["text"], pygame.Rect(a.x, a.y, a.width, th.px(200)), 3,
                     bold=True)
        draw_card_slot(ui, surf, (a.centerx, a.centery + th.px(60)), self.want_present,
                       ui.clock.monotonic() - self.started)
