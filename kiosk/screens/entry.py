"""Keypad screens: the ID-number pad (with X, checked as the citizen types) and the PIN pad."""

from __future__ import annotations

from collections.abc import Callable

import pygame

from kiosk.domain import citizen_id
from kiosk.screens.base import Screen
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button, Keypad


def _split(area: pygame.Rect, portrait: bool, gap: int) -> tuple[pygame.Rect, pygame.Rect]:
    """Entry field and messages on one side, the keypad on the other (stacked when portrait)."""
    if portrait:
        top_h = int(area.height * 0.46)
        return (pygame.Rect(area.x, area.y, area.width, top_h),
                pygame.Rect(area.x, area.y + top_h + gap, area.width, area.height - top_h - gap))
    left_w = int(area.width * 0.52)
    return (pygame.Rect(area.x, area.y, left_w, area.height),
            pygame.Rect(area.x + left_w + gap, area.y, area.width - left_w - gap, area.height))


def _draw_error(ui, surf: pygame.Surface, rect: pygame.Rect, key: str, **fields: object) -> None:
    """An error in red *and* with an icon and words: never colour alone."""
    th = ui.theme
    pygame.draw.rect(surf, COLORS["danger_bg"], rect, border_radius=th.radius)
    pygame.draw.rect(surf, COLORS["danger"], rect, width=max(2, th.px(3)), border_radius=th.radius)
    r = th.px(26)
    cx, cy = rect.x + th.px(24) + r, rect.y + th.px(24) + r
    pygame.draw.circle(surf, COLORS["danger"], (cx, cy), r)
    ui.text.blit(surf, "!", th.font_px("body"), COLORS["on_danger"], True, role="glyph", center=(cx, cy))
    text_rect = pygame.Rect(cx + r + th.px(20), rect.y + th.px(20), rect.right - cx - r - th.px(40),
                            rect.height - th.px(40))
    ui.draw_text(surf, key, "body", COLORS["danger"], text_rect, 3, align="left", bold=True, **fields)


def error_height(ui, width: int, key: str, **fields: object) -> int:
    """How tall _draw_error's box of `width` is for its words in lines of body text (and its mark)."""
    th = ui.theme
    text_w = width - 2 * th.px(26) - th.px(84)
    n = len(ui.text.wrap(ui.t(key, **fields), th.font_px("body"), max(1, text_w), True))
    return max(th.lines_h("body", n) + th.px(40), th.px(100))


class IdEntryScreen(Screen):
    name = "id_entry"
    title_key = "id_entry.title"

    def __init__(self, ui, on_done: Callable[[str], None]) -> None:
        super().__init__(ui)
        self.on_done = on_done
        self.keypad: Keypad | None = None

    def layout(self, area: pygame.Rect) -> None:
        old = bytes(self.keypad.buffer) if self.keypad else b""
        super().layout(area)
        th = self.ui.theme
        self.info, pad = _split(area, th.portrait, th.margin)
        self.keypad = Keypad(self.ui, pad, citizen_id.LENGTH, with_x=True)
        self.keypad.buffer += old
        self.buttons += self.keypad.buttons
        nh = th.button_h
        self.next = Button(pygame.Rect(self.info.x, self.info.bottom - nh, self.info.width, nh),
                           "id_entry.confirm", self._confirm, "primary", name="confirm")
        self.buttons.append(self.next)

    @property
    def problem(self) -> citizen_id.IdProblem | None:
        return citizen_id.problem(self.keypad.value) if self.keypad else None

    def _confirm(self) -> None:
        if self.keypad is None:  # not laid out yet: nothing typed
            return
        value = self.keypad.value
        if citizen_id.validate(value) is None:
            self.on_done(value)

    def update(self, now: float) -> None:
        self.next.enabled = self.keypad is not None and citizen_id.validate(self.keypad.value) is None

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, info = self.ui, self.ui.theme, self.info
        assert self.keypad is not None, "layout() builds the keypad before anything is drawn"
        y = ui.draw_text(surf, "id_entry.prompt", "body", COLORS["text"], info, 2, align="left")
        field = pygame.Rect(info.x, y + th.px(16), info.width, th.px(120))
        pygame.draw.rect(surf, COLORS["surface"], field, border_radius=th.radius)
        pygame.draw.rect(surf, COLORS["primary"], field, width=max(2, th.px(4)), border_radius=th.radius)
        value = self.keypad.value
        shown = " ".join(p for p in (value[:6], value[6:14], value[14:]) if p)
        if value:
            size, lines = ui.text.fit(shown, th.font_px("huge"), field.width - th.px(48), 1, bold=True,
                                      height=field.height)
            ui.text.blit(surf, lines[0], size, COLORS["text"], True, role="huge", box=field,
                         midleft=(field.x + th.px(24), field.centery))
        problem = citizen_id.problem(value)
        y = field.bottom
        if problem is None or len(value) < citizen_id.LENGTH:  # all typed and wrong: the words need the room
            counter = pygame.Rect(info.x, field.bottom + th.px(10), info.width, th.lines_h("small"))
            y = ui.draw_text(surf, "id_entry.count", "small", COLORS["muted"], counter, 1, align="left",
                             typed=len(value), total=citizen_id.LENGTH)
        msg = pygame.Rect(info.x, y + th.px(14), info.width, self.next.rect.y - y - th.px(28))
        if problem is not None:
            _draw_error(ui, surf, msg, problem.value)
        elif len(value) == citizen_id.LENGTH:
            ui.draw_text(surf, "id_entry.valid", "body", COLORS["ok"], msg, 2, align="left", bold=True)
        else:
            ui.draw_text(surf, "id_entry.hint", "small", COLORS["muted"], msg, 3, align="left")
        super().draw(surf)


class PinEntryScreen(Screen):
    """Six digits, shown as dots. A refused PIN is said in words with the tries left ("密码不对，还可以
    再试 2 次"), in red with an icon. For the card's own PIN, the way to reset a forgotten one: a
    button into that service when it can be done here (`on_forgot`), else where to go (`forgot_note`).
    The digits are in order unless the bureau chooses a shuffled pad (ui.pin_pad_scrambled):
    people who type a PIN by the keys' positions cannot use a shuffled one."""

    name = "pin_entry"
    title_key = "pin_entry.title"

    def __init__(self, ui, on_done: Callable[[bytearray], None], attempts_left: int | None = None,
                 message: str = "", hint: str = "", on_forgot: Callable[[], None] | None = None,
                 forgot_note: bool = False) -> None:
        super().__init__(ui)
        self.on_done, self.attempts_left, self.message, self.hint = on_done, attempts_left, message, hint
        self.on_forgot, self.forgot_note = on_forgot, forgot_note
        self.keypad: Keypad | None = None
        self.order: list[str] | None = None  # shuffled once per screen, kept across re-layouts

    @property
    def scrambled(self) -> bool:
        services = getattr(self.ui, "services", None)
        return bool(services is not None and services.cfg["ui.pin_pad_scrambled"])

    def layout(self, area: pygame.Rect) -> None:
        old = bytes(self.keypad.buffer) if self.keypad else b""
        super().layout(area)
        th = self.ui.theme
        self.info, pad = _split(area, th.portrait, th.margin)
        self.keypad = Keypad(self.ui, pad, 6, scrambled=self.scrambled, order=self.order)
        self.order = self.keypad.order  # never logged: it would say which finger typed which digit
        self.keypad.buffer += old
        self.buttons += self.keypad.buttons
        nh = th.button_h
        self.next = Button(pygame.Rect(self.info.x, self.info.bottom - nh, self.info.width, nh),
                           "pin_entry.confirm", self._confirm, "primary", name="confirm")
        self.buttons.append(self.next)
        self.forgot: Button | None = None
        if self.on_forgot is not None:
            self.forgot = Button(pygame.Rect(self.info.x, self.next.rect.y - th.px(20) - nh, self.info.width, nh),
                                 "pin_entry.forgot", self.on_forgot, "secondary", name="forgot_pin")
            self.buttons.append(self.forgot)

    def _confirm(self) -> None:
        if self.keypad is not None and len(self.keypad.buffer) == 6:
            pin = bytearray(self.keypad.buffer)
            self.keypad.wipe()
            self.on_done(pin)

    def update(self, now: float) -> None:
        self.next.enabled = self.keypad is not None and len(self.keypad.buffer) == 6

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, info = self.ui, self.ui.theme, self.info
        assert self.keypad is not None, "layout() builds the keypad before anything is drawn"
        y = ui.draw_text(surf, "pin_entry.prompt", "body", COLORS["text"], info, 2, align="left")
        field = pygame.Rect(info.x, y + th.px(16), info.width, th.px(120))
        pygame.draw.rect(surf, COLORS["surface"], field, border_radius=th.radius)
        pygame.draw.rect(surf, COLORS["primary"], field, width=max(2, th.px(4)), border_radius=th.radius)
        step = min(th.px(90), field.width // 7)
        for i in range(6):
            c = (field.x + step * (i + 1), field.centery)
            filled = i < len(self.keypad.buffer)
            pygame.draw.circle(surf, COLORS["text"], c, th.px(18), 0 if filled else max(2, th.px(3)))
        y = field.bottom + th.px(20)
        bottom = (self.forgot.rect.y if self.forgot is not None else self.next.rect.y) - th.px(20)
        msg = pygame.Rect(info.x, y, info.width, bottom - y)
        said_tries = False
        if self.message:
            # A refused PIN's words carry the tries left ({n}): one sentence, not a number apart.
            box = pygame.Rect(msg.x, msg.y, msg.width,
                              min(msg.height, error_height(ui, msg.width, self.message, n=self.attempts_left)))
            _draw_error(ui, surf, box, self.message, n=self.attempts_left)
            said_tries = self.attempts_left is not None
            msg = pygame.Rect(msg.x, box.bottom + th.px(12), msg.width, msg.bottom - box.bottom - th.px(12))
        elif self.hint:
            y = ui.draw_text(surf, self.hint, "body", COLORS["text"], msg, 3, align="left")
            msg = pygame.Rect(msg.x, y + th.px(12), msg.width, msg.bottom - y - th.px(12))
        if self.attempts_left is not None and not said_tries and msg.height > 0:
            # Fewer than 3 left: red *and* the words say how many.
            color = COLORS["danger"] if self.attempts_left < 3 else COLORS["text"]
            y = ui.draw_text(surf, "pin_entry.attempts_left", "body", color, msg, 2, align="left",
                             bold=self.attempts_left < 3, n=self.attempts_left)
            msg = pygame.Rect(msg.x, y + th.px(12), msg.width, msg.bottom - y - th.px(12))
        if self.forgot_note and self.forgot is None and msg.height > 0:
            ui.draw_text(surf, "pin_entry.forgot_note", "small", COLORS["muted"], msg, 3, align="left")
        super().draw(surf)
