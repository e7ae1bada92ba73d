"""Screens around the face check: the separate consent to face capture (with the counter as the
alternative), the four pictures shown before they are sent, and the details to confirm."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pygame

from kiosk.screens.base import Screen
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button
from kiosk.services.face_check import FacePictures

if TYPE_CHECKING:
    from kiosk.screens.shell import UI


def _two_buttons(screen: Screen, area: pygame.Rect, first: Button, second: Button) -> None:
    """Primary on the right, the way out on the left; stacked on a narrow (portrait) screen."""
    th = screen.ui.theme
    gap = th.px(24)
    if th.portrait:
        first.rect = pygame.Rect(area.x, area.bottom - th.button_h, area.width, th.button_h)
        second.rect = pygame.Rect(area.x, first.rect.y - gap - th.button_h, area.width, th.button_h)
    else:
        w = min(th.px(720) if not th.care_mode else area.width, (area.width - gap) // 2)
        first.rect = pygame.Rect(area.right - w, area.bottom - th.button_h, w, th.button_h)
        second.rect = pygame.Rect(first.rect.x - gap - w, first.rect.y, w, th.button_h)
    screen.buttons += [second, first]


def picture_surfaces(pictures: FacePictures, size: tuple[int, int]) -> list[pygame.Surface]:
    """Decoded and mirrored like the preview, so citizens recognise what they saw."""
    out = []
    for jpeg in pictures.jpegs:
        img = pygame.image.load(io.BytesIO(jpeg), "picture.jpg")
        out.append(pygame.transform.smoothscale(pygame.transform.flip(img, True, False), size))
    return out


def draw_pictures(ui: UI, surf: pygame.Surface, images: Sequence[pygame.Surface], rect: pygame.Rect) -> None:
    th = ui.theme
    step = (images[0].get_width() + th.px(16), images[0].get_height() + th.px(16)) if images else (1, 1)
    fit = max(1, (rect.width + th.px(16)) // step[0])  # more rows when they do not fit side by side,
    per_row = -(-len(images) // -(-len(images) // fit)) if images else 1  # evenly: 2 + 2, not 3 + 1
    for i, img in enumerate(images):
        row, col = divmod(i, per_row)
        r = img.get_rect(topleft=(rect.x + col * step[0], rect.y + row * step[1]))
        surf.blit(img, r)
        pygame.draw.rect(surf, COLORS["tile_border"], r, max(2, th.px(3)))
        badge = pygame.Rect(r.x, r.y, th.px(52), th.px(52))
        pygame.draw.rect(surf, COLORS["bar"], badge)
        ui.text.blit(surf, str(i + 1), th.font_px("small"), COLORS["on_bar"], True, role="glyph",
                     center=badge.center)


class ConsentScreen(Screen):
    """PIPL: face pictures are sensitive personal information and need their own consent."""

    name = "consent"
    title_key = "consent.bar"

    def __init__(self, ui: UI, body: str, on_agree: Callable[[], None], on_decline: Callable[[], None]) -> None:
        super().__init__(ui)
        self.body, self.on_agree, self.on_decline = body, on_agree, on_decline

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        _two_buttons(self, area, Button(pygame.Rect(0, 0, 1, 1), "consent.agree", self.on_agree, "primary",
                                        name="consent_agree"),
                     Button(pygame.Rect(0, 0, 1, 1), "consent.decline", self.on_decline, "secondary",
                            name="consent_decline"))

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        y = ui.draw_text(surf, "consent.title", "title", COLORS["text"], pygame.Rect(a.x, a.y, a.width, th.px(90)),
                         1, bold=True, align="left")
        top = min(b.rect.y for b in self.buttons)
        box = pygame.Rect(a.x, y + th.px(16), a.width, top - y - th.px(40))
        pygame.draw.rect(surf, COLORS["surface"], box, border_radius=th.radius)
        pygame.draw.rect(surf, COLORS["tile_border"], box, width=max(2, th.px(3)), border_radius=th.radius)
        ui.draw_text(surf, self.body, "tile", COLORS["text"], box.inflate(-th.px(60), -th.px(50)), 9, align="left")
        super().draw(surf)


class PicturesScreen(Screen):
    """The four pictures, before anything is sent: use them, or take them again."""

    name = "pictures"
    title_key = "liveness.bar"

    def __init__(self, ui: UI, pictures: FacePictures, on_use: Callable[[], None],
                 on_retake: Callable[[], None] | None) -> None:
        super().__init__(ui)
        self.pictures, self.on_use, self.on_retake = pictures, on_use, on_retake
        self.images: list[pygame.Surface] = []

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        use = Button(pygame.Rect(0, 0, 1, 1), "liveness.pictures.use", self.on_use, "primary", name="use_pictures")
        retake = Button(pygame.Rect(0, 0, 1, 1), "liveness.pictures.retake", self.on_retake or (lambda: None),
                        "secondary", enabled=self.on_retake is not None, name="retake")
        _two_buttons(self, area, use, retake)
        self.images = []  # sized when drawn: to the room the words (in the language on screen) leave

    def _size_pictures(self, top: int) -> None:
        """The pictures as large as the room between `top` and the buttons lets them be: four in a
        row or two by two, whichever is larger (draw_pictures puts them in as few rows as fit)."""
        th, a, gap = self.ui.theme, self.area, self.ui.theme.px(16)
        room = min(b.rect.y for b in self.buttons) - gap - top
        w = max(min((a.width - 3 * gap) // 4, room * 4 // 3), min((a.width - gap) // 2, (room - gap) // 2 * 4 // 3))
        w = max(th.px(80), w)
        if not self.images or self.images[0].get_width() != w:
            self.images = picture_surfaces(self.pictures, (w, w * 3 // 4))

    def release(self) -> None:
        super().release()
        self.images = []

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        y = ui.draw_text(surf, "liveness.pictures.title", "title", COLORS["text"],
                         pygame.Rect(a.x, a.y, a.width, max(th.px(90), th.lines_h("title"))), 1, bold=True, align="left")
        y = ui.draw_text(surf, "liveness.pictures.body", "body", COLORS["text"],
                         pygame.Rect(a.x, y + th.px(8), a.width, th.lines_h("body", 4)), 4, align="left")
        self._size_pictures(y + th.px(20))
        draw_pictures(ui, surf, self.images, pygame.Rect(a.x, y + th.px(20), a.width, a.height))
        super().draw(surf)


@dataclass(frozen=True)
class Fact:
    """One line to confirm: a label and its value, both in the language on screen when drawn."""

    label: str  # message id
    value: str  # literal text (a masked name), or a message id when `translate`
    translate: bool = False


class ConfirmScreen(Screen):
    """What will be submitted, in words and (small) pictures; submit or cancel."""

    name = "confirm"

    def __init__(self, ui: UI, title_key: str, facts: Sequence[Fact], on_submit: Callable[[], None],
                 pictures: FacePictures | None = None) -> None:
        super().__init__(ui)
        self.title_key, self.facts, self.on_submit, self.pictures = title_key, list(facts), on_submit, pictures
        self.images: list[pygame.Surface] = []

    def shown(self, label: str) -> str:
        fact = next(f for f in self.facts if f.label == label)
        return self.ui.t(fact.value) if fact.translate else fact.value

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        _two_buttons(self, area, Button(pygame.Rect(0, 0, 1, 1), "certify.submit", self.on_submit, "primary",
                                        name="submit"),
                     Button(pygame.Rect(0, 0, 1, 1), "certify.cancel", lambda: self.ui.go_home("cancel"),
                            "secondary", name="cancel"))
        facts_top = area.y + max(th.px(90), th.lines_h("title")) + th.px(10)
        bottom = min(b.rect.y for b in self.buttons) - th.px(20)
        gap = th.px(16)
        if th.portrait:  # pictures under the facts
            self.facts_w = area.width
            top = facts_top + len(self.facts) * int(th.font_px("body") * 1.6) + th.lines_h("small") + th.px(32)
            self.pic_rect = pygame.Rect(area.x, top, area.width, bottom - top)
        else:  # pictures beside the facts
            self.facts_w = int(area.width * 0.58)
            left = area.x + self.facts_w + th.px(40)
            room = th.lines_h("small") + th.px(8)  # the caption above them
            self.pic_rect = pygame.Rect(left, facts_top + room, area.right - left, bottom - facts_top - room)
        pw, ph = self.pic_rect.size
        # Two by two, or four in a row: whichever shows them larger in the room there is.
        w = max(min((pw - gap) // 2, (ph - gap) // 2 * 4 // 3), min((pw - 3 * gap) // 4, ph * 4 // 3))
        if self.pictures is not None and len(self.pictures) and w >= th.px(80):
            self.images = picture_surfaces(self.pictures, (w, w * 3 // 4))

    def release(self) -> None:
        super().release()
        self.images = []

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        y = ui.draw_text(surf, "certify.confirm_title", "title", COLORS["text"],
                         pygame.Rect(a.x, a.y, a.width, max(th.px(90), th.lines_h("title"))), 1, bold=True,
                         align="left") + th.px(10)
        row = int(th.font_px("body") * 1.6)
        width = self.facts_w
        label_w = int(width * (0.34 if th.portrait else 0.36))
        for i, fact in enumerate(self.facts):
            r = pygame.Rect(a.x, y + i * row, width, row)
            if i % 2 == 0:
                pygame.draw.rect(surf, COLORS["surface"], r)
            value = self.shown(fact.label)
            ui.draw_text(surf, fact.label, "body", COLORS["muted"], pygame.Rect(r.x + th.px(16), r.y + th.px(10),
                         label_w, row), 1, align="left")
            size, lines = ui.text.fit(value, th.font_px("body"), width - label_w - th.px(40), 1, bold=True)
            ui.draw_lines(surf, lines, size, COLORS["text"], r.x + label_w + th.px(24), r.y + th.px(10), bold=True,
                          align="left")
        if self.images:
            p = self.pic_rect
            caption = th.lines_h("small")
            ui.draw_text(surf, "certify.confirm_pictures", "small", COLORS["muted"],
                         pygame.Rect(p.x, p.y - caption - th.px(8), p.width, caption), 1, align="left")
            draw_pictures(ui, surf, self.images, p)
        super().draw(surf)
