"""Screens of the card application: the ID photo (a live picture to aim by, the still checked on
a worker, why it was refused or the accepted crop) and the mobile number for the pick-up notice.
They draw a flow's AskPhoto and AskPhone steps."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pygame

from kiosk.screens.base import Screen
from kiosk.screens.entry import _draw_error, _split
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button, Keypad

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

log = logging.getLogger(__name__)


class PhotoScreen(Screen):
    """A mirrored live preview with a head-and-shoulders guide; the photo is checked on a worker
    and the citizen sees why it was refused, or the accepted crop, and can retake."""

    name = "id_photo"
    title_key = "photo.bar"

    def __init__(self, ui: UI, on_photo: Callable[[bytes], None], preview: Any, check: Callable[[Any], Any]) -> None:
        """preview: the live picture the flow started (latest(), stop()); check: judges a still."""
        super().__init__(ui)
        self.on_photo, self.preview, self.check = on_photo, preview, check
        self.problems: tuple[str, ...] = ()
        self.accepted: bytes = b""
        self.checking = False
        ui.register_wipe(self._wipe)

    @property
    def latest(self) -> Any:
        return self.preview.latest() if self.preview is not None else None

    def _wipe(self) -> None:
        if self.preview is not None:
            self.preview.stop()
        self.accepted = b""

    def release(self) -> None:
        self._wipe()
        super().release()

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        self.preview_rect, side = _split(area, th.portrait, th.margin)
        bh = th.button_h
        if self.accepted:
            self.buttons += [Button(pygame.Rect(side.x, side.bottom - 2 * bh - th.px(16), side.width, bh),
                                    "photo.use", self._use, "primary", name="use-photo"),
                             Button(pygame.Rect(side.x, side.bottom - bh, side.width, bh), "photo.retake",
                                    self._retake, "secondary", name="retake")]
        else:
            self.buttons.append(Button(pygame.Rect(side.x, side.bottom - bh, side.width, bh), "photo.take",
                                       self._take, "primary", enabled=not self.checking, name="take-photo"))
        self.side = side

    def _take(self) -> None:
        if self.latest is None or self.checking:
            return
        frame = self.latest.copy()
        self.checking = True
        self.layout(self.area)
        self.ui.workers.submit("photo_check", self.check, frame,
                               session=self.ui.sessions.current().token, on_done=self._checked)

    def _checked(self, job: Any) -> None:
        self.checking = False
        if job.error is not None:
            self.problems = ("photo.problem.failed",)
        else:
            result = job.result()
            self.problems, self.accepted = result.problems, result.crop if result.ok else b""
        self.layout(self.area)

    def _retake(self) -> None:
        self.accepted, self.problems = b"", ()
        self.layout(self.area)

    def _use(self) -> None:
        jpeg = self.accepted
        self._wipe()
        self.on_photo(jpeg)

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, p = self.ui, self.ui.theme, self.preview_rect
        pygame.draw.rect(surf, COLORS["text"], p, border_radius=th.radius)
        image = self._accepted_surface() if self.accepted else self._live_surface()
        if image is not None:
            scale = min(p.width / image.get_width(), p.height / image.get_height())
            image = pygame.transform.smoothscale(image, (int(image.get_width() * scale),
                                                         int(image.get_height() * scale)))
            surf.blit(image, image.get_rect(center=p.center))
        if not self.accepted:  # the guide: where the head goes
            oval = pygame.Rect(0, 0, int(p.height * 0.42), int(p.height * 0.56))
            oval.center = (p.centerx, p.centery - p.height // 12)
            pygame.draw.ellipse(surf, (255, 255, 255), oval, max(3, th.px(5)))
        y = ui.draw_text(surf, "photo.accepted" if self.accepted else "photo.prompt", "body", COLORS["text"],
                         pygame.Rect(self.side.x, self.side.y, self.side.width, th.px(260)), 5, align="left")
        if self.problems:
            box = pygame.Rect(self.side.x, y + th.px(20), self.side.width, th.px(90) * min(3, len(self.problems)) +
                              th.px(40))
            _draw_error(ui, surf, box, self.problems[0])
            ui.draw_text(surf, "photo.retry_hint", "small", COLORS["muted"],
                         pygame.Rect(box.x, box.bottom + th.px(10), box.width, th.px(90)), 2, align="left")
        if self.checking:
            ui.draw_text(surf, "photo.checking", "body", COLORS["primary"],
                         pygame.Rect(self.side.x, y + th.px(20), self.side.width, th.px(60)), 1, align="left")
        super().draw(surf)

    def _live_surface(self) -> pygame.Surface | None:
        latest = self.latest
        if latest is None:
            return None
        mirrored = np.ascontiguousarray(latest[:, ::-1])  # a mirror: people expect to see themselves so
        return pygame.surfarray.make_surface(mirrored.swapaxes(0, 1))

    def _accepted_surface(self) -> pygame.Surface | None:
        import io

        try:
            return pygame.image.load(io.BytesIO(self.accepted), "photo.jpg")
        except pygame.error:
            return None


class PhoneScreen(Screen):
    """A mobile number for the card's pick-up notice: digits shown (not secret), 11 of them."""

    name = "phone"
    title_key = "apply.phone_title"

    def __init__(self, ui: UI, on_done: Callable[[str], None], prompt: str = "apply.phone_prompt") -> None:
        super().__init__(ui)
        self.on_done, self.prompt = on_done, prompt  # prompt: what the number is for
        self.keypad: Keypad | None = None

    def layout(self, area: pygame.Rect) -> None:
        old = bytes(self.keypad.buffer) if self.keypad else b""
        super().layout(area)
        th = self.ui.theme
        self.info, pad = _split(area, th.portrait, th.margin)
        keypad = self.keypad = Keypad(self.ui, pad, 11)
        keypad.buffer += old
        self.buttons += keypad.buttons
        self.next = Button(pygame.Rect(self.info.x, self.info.bottom - th.button_h, self.info.width, th.button_h),
                           "id_entry.confirm", lambda: self.on_done(keypad.value), "primary", name="confirm")
        self.buttons.append(self.next)

    def update(self, now: float) -> None:
        value = self.keypad.value if self.keypad else ""
        self.next.enabled = len(value) == 11 and value.startswith("1")

    def draw(self, surf: pygame.Surface) -> None:
        ui, th = self.ui, self.ui.theme
        y = ui.draw_text(surf, self.prompt, "body", COLORS["text"], self.info, 3, align="left")
        field = pygame.Rect(self.info.x, y + th.px(16), self.info.width, th.px(120))
        pygame.draw.rect(surf, COLORS["surface"], field, border_radius=th.radius)
        pygame.draw.rect(surf, COLORS["primary"], field, width=max(2, th.px(4)), border_radius=th.radius)
        value = self.keypad.value if self.keypad else ""
        if value:
            shown = " ".join(p for p in (value[:3], value[3:7], value[7:]) if p)
            ui.text.blit(surf, shown, th.font_px("huge"), COLORS["text"], True, role="huge", box=field,
                         midleft=(field.x + th.px(24), field.centery))
        super().draw(surf)
