"""Name entry for typed identification: a pinyin keyboard; the characters that read as the typed
pinyin are offered a row at a time (common surnames first for the first character)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

import pygame

from kiosk.screens.base import Screen
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button
from kiosk.services import pinyin_input

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
MAX_PINYIN = 6  # the longest syllable (zhuang, shuang) has six letters
MAX_NAME = 20  # characters; the bureau accepts 40, no real name comes near
MIN_NAME = 2
MIDDLE_DOT = "·"  # names of some ethnic minorities join parts with it


class NameEntryScreen(Screen):
    name = "name_entry"
    title_key = "name_entry.title"

    def __init__(self, ui: UI, on_done: Callable[[str], None]) -> None:
        super().__init__(ui)
        self.on_done = on_done
        self.chars: list[str] = []
        self.pinyin = ""
        self.page = 0
        self.per_page = 8
        self._glyphs: dict[str, bool] = {}
        ui.register_wipe(self.wipe)
        pinyin_input.warm()

    def wipe(self) -> None:
        self.chars.clear()
        self.pinyin = ""
        pinyin_input.release()  # the index is rebuilt when the keyboard opens again

    @property
    def value(self) -> str:
        return "".join(self.chars)

    # -- layout -----------------------------------------------------------------------------------
    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        gap = th.px(12)
        prompt_n = len(self.ui.text.wrap(self.ui.t("name_entry.prompt"), th.font_px("body"), area.width))
        self.prompt = pygame.Rect(area.x, area.y, area.width, max(th.px(56), th.lines_h("body", prompt_n)))
        field_h = max(th.px(130), th.lines_h("small", 2) + th.px(20) if th.portrait else 0)  # a 2-line hint
        confirm_w = th.px(300)
        self.field = pygame.Rect(area.x, self.prompt.bottom + gap, area.width - confirm_w - gap, field_h)
        self.confirm = Button(pygame.Rect(self.field.right + gap, self.field.y, confirm_w, field_h),
                              "name_entry.confirm", self._confirm, "primary", name="confirm")
        cand_h = th.px(120)
        cand = pygame.Rect(area.x, self.field.bottom + gap, area.width, cand_h)
        font = self.ui.text.font(th.font_px("button"), True)  # the page buttons hold their words whole
        nav_w = max(th.px(170), *(font.size(self.ui.t(k))[0] + th.px(40) for k in ("name_entry.prev", "name_entry.next")))
        cell = th.px(118)
        inner = cand.width - 2 * (nav_w + gap)
        self.per_page = max(3, (inner + gap) // (cell + gap))
        cell = (inner - gap * (self.per_page - 1)) // self.per_page
        self.prev = Button(pygame.Rect(cand.x, cand.y, nav_w, cand_h), "name_entry.prev", lambda: self._turn(-1),
                           "secondary", name="cand-prev")
        self.next = Button(pygame.Rect(cand.right - nav_w, cand.y, nav_w, cand_h), "name_entry.next",
                           lambda: self._turn(1), "secondary", name="cand-next")
        self.cand_area = pygame.Rect(cand.x + nav_w + gap, cand.y, inner, cand_h)
        self.cells = [Button(pygame.Rect(self.cand_area.x + i * (cell + gap), cand.y, cell, cand_h), "",
                             functools.partial(self._pick, i), "key", literal=True, name=f"cand-{i}")
                      for i in range(self.per_page)]
        kb = pygame.Rect(area.x, cand.bottom + th.px(24), area.width, area.bottom - cand.bottom - th.px(24))
        self.keys: list[Button] = []
        rows = 4 if th.portrait else 3  # portrait: the middle dot and Delete get a row of their own
        kh = min(th.px(200 if th.portrait else 150), (kb.height - (rows - 1) * gap) // rows)
        kw = (kb.width - 9 * gap) // 10
        back_need = self.ui.text.font(th.font_px("button"), True).size(self.ui.t("name_entry.delete"))[0] + th.px(40)
        for r, row in enumerate(ROWS):
            y = kb.y + r * (kh + gap)
            x0 = kb.x + r * kw // 2
            if r == 2 and not th.portrait:  # the last row moves left when "Delete" needs the room at its end
                x0 = kb.x + max(0, min(kw, kb.width - 8 * (kw + gap) - back_need))
            for c, letter in enumerate(row):
                self.keys.append(Button(pygame.Rect(x0 + c * (kw + gap), y, kw, kh), letter.upper(),
                                        functools.partial(self._type, letter), "key", literal=True,
                                        name=f"key-{letter}"))
        if th.portrait:
            y, x = kb.y + 3 * (kh + gap), kb.x + kw // 2
        else:
            y, x = kb.y + 2 * (kh + gap), self.keys[-1].rect.right + gap
        dot = Button(pygame.Rect(x, y, kw, kh), MIDDLE_DOT, lambda: self._add(MIDDLE_DOT), "key", literal=True,
                     name="key-dot")
        right = self.keys[-1].rect.right if th.portrait else kb.right
        back = Button(pygame.Rect(dot.rect.right + gap, y, right - dot.rect.right - gap, kh), "name_entry.delete",
                      self._delete, "secondary", name="key-back")
        self.keys += [dot, back]
        self.buttons += [self.confirm, self.prev, self.next, *self.cells, *self.keys]
        self._refresh()

    # -- typing -----------------------------------------------------------------------------------
    def _shown(self) -> tuple[str, ...]:
        if not self.pinyin or not pinyin_input.ready():
            return ()
        found = pinyin_input.candidates(self.pinyin, first=not self.chars).chars
        return tuple(c for c in found if self._has_glyph(c))

    def _has_glyph(self, ch: str) -> bool:
        """Offer only characters the font can draw: a box instead of a name is worse than none."""
        known = self._glyphs.get(ch)
        if known is None:
            metrics = self.ui.text.font(self.ui.theme.font_px("key")).metrics(ch)
            known = self._glyphs[ch] = bool(metrics) and metrics[0] is not None
        return known

    def _refresh(self) -> None:
        shown = self._shown()
        pages = max(1, -(-len(shown) // self.per_page))
        self.page = min(self.page, pages - 1)
        chunk = shown[self.page * self.per_page:(self.page + 1) * self.per_page]
        for i, cell in enumerate(self.cells):
            cell.label = chunk[i] if i < len(chunk) else ""
            cell.enabled = i < len(chunk)
        self.prev.enabled = self.page > 0
        self.next.enabled = self.page + 1 < pages
        self.confirm.enabled = len(self.chars) >= MIN_NAME and not self.pinyin
        full = len(self.chars) >= MAX_NAME
        for key in self.keys:
            if key.name != "key-back":
                key.enabled = not full

    def _type(self, letter: str) -> None:
        if len(self.pinyin) < MAX_PINYIN:
            self.pinyin += letter
            self.page = 0
            self._refresh()

    def _pick(self, i: int) -> None:
        ch = self.cells[i].label
        if ch:
            self._add(ch)

    def _add(self, ch: str) -> None:
        if len(self.chars) < MAX_NAME:
            self.chars.append(ch)
            self.pinyin, self.page = "", 0
            self._refresh()

    def _delete(self) -> None:
        if self.pinyin:
            self.pinyin = self.pinyin[:-1]
        elif self.chars:
            self.chars.pop()
        self.page = 0
        self._refresh()

    def _turn(self, delta: int) -> None:
        self.page = max(0, self.page + delta)
        self._refresh()

    def _confirm(self) -> None:
        if self.confirm.enabled:
            self.on_done(self.value)

    def update(self, now: float) -> None:
        if self.pinyin and not any(c.label for c in self.cells) and pinyin_input.ready():
            self._refresh()  # the dictionary finished loading after the first letters were typed

    # -- drawing ----------------------------------------------------------------------------------
    def draw(self, surf: pygame.Surface) -> None:
        ui, th = self.ui, self.ui.theme
        ui.draw_text(surf, "name_entry.prompt", "body", COLORS["text"], self.prompt, 2, align="left")
        f = self.field
        pygame.draw.rect(surf, COLORS["surface"], f, border_radius=th.radius)
        pygame.draw.rect(surf, COLORS["primary"], f, width=max(2, th.px(4)), border_radius=th.radius)
        x = f.x + th.px(24)
        if self.chars:
            size, lines = ui.text.fit(self.value, th.font_px("huge"), f.width // 2, 1, bold=True, height=f.height)
            shown = ui.text.blit(surf, lines[0], size, COLORS["text"], True, role="huge", box=f, midleft=(x, f.centery))
            x += shown.width + th.px(24)
        if self.pinyin:
            r = ui.text.blit(surf, self.pinyin, th.font_px("title"), COLORS["primary"], True, role="title", box=f,
                             midleft=(x, f.centery))
            pygame.draw.line(surf, COLORS["primary"], (r.x, r.bottom), (r.right, r.bottom), max(2, th.px(4)))
            x = r.right + th.px(24)
        hint = pygame.Rect(x, f.y + th.px(10), f.right - x - th.px(20), f.height - th.px(20))
        if hint.width > th.px(120):
            key = ("name_entry.no_match" if self.pinyin and pinyin_input.ready() and not self.cells[0].label
                   else "name_entry.pick" if self.pinyin else "name_entry.start" if not self.chars else "")
            if key:
                size, lines = ui.text.fit(ui.t(key), th.font_px("small"), hint.width, 2, height=hint.height)
                h = len(lines) * int(size * 1.25)
                color = COLORS["danger"] if key == "name_entry.no_match" else COLORS["muted"]
                ui.draw_lines(surf, lines, size, color, hint.x, hint.centery - h // 2, align="left")
        for button in self.buttons:
            if button.literal and not button.label:
                continue  # an empty candidate cell: nothing to offer there
            button.draw(ui, surf)
