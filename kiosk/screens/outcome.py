"""The screens that end a flow: the result with the reference number (large and as a QR code),
a paged table of figures, and a timeline of stages."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pygame

from kiosk.screens.base import Screen
from kiosk.screens.entry import _draw_error, error_height
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button

if TYPE_CHECKING:
    from kiosk.screens.shell import UI


def qr_matrix(text: str) -> list[list[bool]]:
    import qrcode  # pure Python; comes with python-escpos

    qr = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.get_matrix()


def draw_qr(surf: pygame.Surface, text: str, rect: pygame.Rect) -> None:
    matrix = qr_matrix(text)
    n = len(matrix) + 8  # quiet zone of four modules each side
    cell = max(1, min(rect.width, rect.height) // n)
    size = cell * n
    x0, y0 = rect.x + (rect.width - size) // 2, rect.y + (rect.height - size) // 2
    pygame.draw.rect(surf, (255, 255, 255), (x0, y0, size, size))
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                pygame.draw.rect(surf, (0, 0, 0), (x0 + (c + 4) * cell, y0 + (r + 4) * cell, cell, cell))


class ResultScreen(Screen):
    """The end of a flow: outcome, key facts, the reference number large and as a QR code (so a
    failed receipt never loses it), the receipt state, and the way out."""

    name = "result"

    def __init__(self, ui: UI, title: str, body: str, reference: str = "", facts: Sequence[tuple[str, str]] = (),
                 kind: str = "ok", receipt_note: str = "", on_finish: Callable[[], None] | None = None,
                 count: bool = True, qr: str = "", qr_caption: str = "", **fields: Any) -> None:
        """kind: ok (done), pending (accepted, the bureau decides later), info, error. `qr`: a link
        for the citizen's phone shown as the QR code instead of the reference, `qr_caption` under it."""
        super().__init__(ui)
        self.title_key = "msg.bar." + kind
        self.heading, self.body, self.reference, self.facts, self.kind = title, body, reference, list(facts), kind
        self.qr = qr or reference
        self.qr_caption = qr_caption if qr else "result.photograph_qr"
        self.receipt_note, self.fields = receipt_note, fields
        # The receipt did not print: print it again once the paper is back (set by the flow host
        # when there is a receipt), and the staff, who note the reference for a citizen without a phone.
        self.on_reprint: Callable[[], None] | None = None
        self.on_finish = on_finish or (lambda: ui.go_home("finish"))
        if count and getattr(ui, "services", None) is not None:  # a flow's runner counts its own
            ui.services.count("completed" if kind != "error" else "failed")

    @property
    def receipt_failed(self) -> bool:
        return bool(self.receipt_note) and self.receipt_note != "result.receipt_printed"

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        w = min(area.width, th.px(640))
        finish = pygame.Rect(area.right - w, area.bottom - th.button_h, w, th.button_h)
        self.buttons.append(Button(finish, "nav.finish", self.on_finish, "primary", name="finish"))
        self.offers_staff = self.receipt_failed  # the staff button sits by the words that name it
        if self.receipt_failed:
            gap = th.px(24)
            row = [Button(pygame.Rect(0, 0, 1, 1), "staff.call", self.ui.call_staff, "staff", name="staff")]
            if self.on_reprint is not None:
                row.append(Button(pygame.Rect(0, 0, 1, 1), "result.reprint", self.on_reprint, "secondary",
                                  name="reprint"))
            if th.portrait:  # a row of their own above "done"
                bw = (area.width - gap * (len(row) - 1)) // len(row)
                for i, b in enumerate(row):
                    b.rect = pygame.Rect(area.x + i * (bw + gap), finish.y - gap - th.button_h, bw, th.button_h)
            else:  # left of "done"
                bw = min(th.px(520), (finish.x - area.x - gap * len(row)) // len(row))
                for i, b in enumerate(row):
                    b.rect = pygame.Rect(area.x + i * (bw + gap), finish.y, bw, th.button_h)
            self.buttons += row
        self.actions_top = min(b.rect.y for b in self.buttons)

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        qr_side = th.px(330) if self.qr else 0
        # Landscape: the QR and its caption have a column of their own, so neither runs into the text.
        qr_col = qr_side + th.px(120) if self.qr else 0
        text_w = a.width - (qr_col + th.margin if not th.portrait else 0)
        color = {"ok": COLORS["ok"], "info": COLORS["primary"], "pending": COLORS["primary"]}.get(self.kind,
                                                                                                    COLORS["danger"])
        mark = {"ok": "✓", "info": "i", "pending": "…", "error": "!"}[self.kind]
        r = th.px(40)
        pygame.draw.circle(surf, color, (a.x + r, a.y + r + th.px(6)), r)
        ui.text.blit(surf, mark, th.font_px("title"), COLORS["on_primary"], True, role="glyph",
                     center=(a.x + r, a.y + r + th.px(6)))
        y = ui.draw_text(surf, self.heading, "title", COLORS["text"], pygame.Rect(a.x + 2 * r + th.px(24), a.y,
                         text_w - 2 * r - th.px(24), th.px(150)), 2, bold=True, align="left", **self.fields)
        # What the citizen came for first: the facts (a certification's validity, a balance) ...
        y = self.facts_top = y + th.px(14)
        y = self._draw_facts(surf, y, text_w)
        # ... then what happens next, and the reference last and smaller: it is for the staff and
        # the receipt, not the first thing to read.
        y = ui.draw_text(surf, self.body, "body", COLORS["text"], pygame.Rect(a.x, y + th.px(10), text_w,
                         th.lines_h("body", 4)), 4, align="left", **self.fields) + th.px(10)
        if self.reference:
            self.reference_top = y
            y = ui.draw_text(surf, "result.reference", "small", COLORS["muted"], pygame.Rect(a.x, y, text_w,
                             th.lines_h("small")), 1, align="left")
            size, lines = ui.text.fit(self.reference, th.font_px("body"), text_w, 1, bold=True)
            self.reference_px = size
            y = ui.draw_lines(surf, lines, size, COLORS["text"], a.x, y, bold=True, align="left") + th.px(10)
        if self.qr:
            # Landscape: beside the text. Portrait: below it, its caption beside it. The QR survives a
            # failed receipt.
            if not th.portrait:
                qr_rect = pygame.Rect(a.right - qr_col // 2 - qr_side // 2, a.y, qr_side, qr_side)
                cap = pygame.Rect(a.right - qr_col, qr_rect.bottom + th.px(8), qr_col, th.lines_h("small", 3))
            else:
                qr_rect = pygame.Rect(a.x, y + th.px(20), qr_side, qr_side)
                cap = pygame.Rect(qr_rect.right + th.px(30), qr_rect.y, a.right - qr_rect.right - th.px(30), qr_side)
            draw_qr(surf, self.qr, qr_rect)
            ui.draw_text(surf, self.qr_caption, "small", COLORS["muted"], cap, 3,
                         align="left" if th.portrait else "center")
            if th.portrait:
                y = qr_rect.bottom + th.px(10)
        if self.receipt_note:
            self._draw_receipt_note(surf, y, text_w)
        super().draw(surf)

    def _draw_facts(self, surf: pygame.Surface, y: int, text_w: int) -> int:
        """What the citizen came for (a certification's validity, a balance): label, then value."""
        ui, th, a = self.ui, self.ui.theme, self.area
        font, bold = ui.text.font(th.font_px("body")), ui.text.font(th.font_px("body"), True)
        label_w = min(int(text_w * 0.45), max((font.size(ui.t(label))[0] for label, _ in self.facts), default=0))
        if any(font.size(ui.t(label))[0] > label_w or label_w + bold.size(value)[0] + th.px(30) > text_w
               for label, value in self.facts):
            for label, value in self.facts:  # no room side by side: each label with its value under it
                y = ui.draw_text(surf, label, "body", COLORS["muted"], pygame.Rect(a.x, y, text_w,
                                 th.lines_h("body", 2)), 2, align="left")
                size, lines = ui.text.fit(value, th.font_px("body"), text_w, 2, bold=True)
                y = ui.draw_lines(surf, lines, size, COLORS["text"], a.x, y, bold=True, align="left") + th.px(10)
            return y
        for label, value in self.facts:
            ui.draw_text(surf, label, "body", COLORS["muted"], pygame.Rect(a.x, y, label_w + th.px(12), th.lines_h("body")), 1,
                         align="left")
            size, lines = ui.text.fit(value, th.font_px("body"), text_w - label_w - th.px(30), 1, bold=True)
            ui.draw_lines(surf, lines, size, COLORS["text"], a.x + label_w + th.px(30), y, bold=True, align="left")
            y += int(th.font_px("body") * 1.4)
        return y

    def _draw_receipt_note(self, surf: pygame.Surface, y: int, text_w: int) -> None:
        """The receipt's state above the buttons, in boxes sized in lines of text."""
        ui, th, a = self.ui, self.ui.theme, self.area
        bottom = self.actions_top - th.px(20)
        if self.receipt_note == "result.receipt_printed":
            top = max(y, bottom - th.lines_h("body", 2))
            ui.draw_text(surf, self.receipt_note, "body", COLORS["text"], pygame.Rect(a.x, top, text_w,
                         max(0, bottom - top)), 2, align="left")
            return
        # the receipt failed: say so plainly, and the ways to the reference without a phone
        err_h = error_height(ui, text_w, self.receipt_note)
        help_key = "result.no_receipt_reprint" if self.on_reprint is not None else "result.no_receipt_staff"
        n = len(ui.text.wrap(ui.t(help_key), th.font_px("body"), text_w))
        top = max(y, bottom - err_h - th.px(10) - th.lines_h("body", n))
        err = pygame.Rect(a.x, top, text_w, max(0, min(err_h, bottom - top)))
        _draw_error(ui, surf, err, self.receipt_note)
        room = pygame.Rect(a.x, err.bottom + th.px(10), text_w, bottom - err.bottom - th.px(10))
        if room.height >= th.lines_h("body", n):  # else (small screen, large text) the buttons say it
            ui.draw_text(surf, help_key, "body", COLORS["text"], room, n, align="left")


class TableScreen(Screen):
    """Rows of figures a page at a time (page by touch), a totals line under them."""

    name = "table"

    def __init__(self, ui: UI, title: str, heading: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                 totals: Sequence[tuple[str, str]] = (), on_print: Callable[[], None] | None = None,
                 name: str = "table", count: bool = True, **fields: Any) -> None:
        super().__init__(ui)
        self.title_key, self.heading, self.columns, self.rows = title, heading, list(columns), list(rows)
        self.totals, self.on_print, self.name, self.fields = list(totals), on_print, name, fields
        self.page = 0
        # the way out of the flow (a card flow ends with "take your card"); set by the flow
        self.on_finish: Callable[[], None] | None = None
        if count and getattr(ui, "services", None) is not None:
            ui.services.count("completed")

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        self.row_h = int(th.font_px("body") * 1.6)
        nav_h = th.button_h
        self.table = pygame.Rect(area.x, area.y + th.px(90), area.width,
                                 area.height - th.px(90) - nav_h - th.px(30) - len(self.totals) * self.row_h)
        self.per_page = max(1, self.table.height // self.row_h - 1)
        paged = self.pages > 1  # no page buttons (greyed out) when every row is on this page
        n = 2 * paged + bool(self.on_print) + bool(self.on_finish)
        gap = th.px(20)
        bw = (area.width - gap * (n - 1)) // max(1, n)
        if not paged:  # "print" at the left, "done" at the right, as wide as on a result
            bw = min(bw, th.px(640))
        y = area.bottom - nav_h
        if paged:
            self.buttons += [Button(pygame.Rect(area.x, y, bw, nav_h), "table.prev", lambda: self._turn(-1),
                                    "secondary", enabled=self.page > 0, name="prev"),
                             Button(pygame.Rect(area.x + bw + gap, y, bw, nav_h), "table.next", lambda: self._turn(1),
                                    "secondary", enabled=(self.page + 1) * self.per_page < len(self.rows), name="next")]
        if self.on_print:
            self.buttons.append(Button(pygame.Rect(area.x + 2 * paged * (bw + gap), y, bw, nav_h), "table.print",
                                       self.on_print, "secondary" if self.on_finish else "primary", name="print"))
        if self.on_finish:
            self.buttons.append(Button(pygame.Rect(area.right - bw, y, bw, nav_h), "nav.finish",
                                       self.on_finish, "primary", name="finish"))

    def _turn(self, delta: int) -> None:
        self.page = max(0, self.page + delta)
        self.layout(self.area)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(len(self.rows) / self.per_page))

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, t = self.ui, self.ui.theme, self.table
        ui.draw_text(surf, self.heading, "body", COLORS["text"], pygame.Rect(self.area.x, self.area.y,
                     self.area.width, th.px(80)), 2, bold=True, align="left", page=self.page + 1,
                     pages=self.pages, **self.fields)
        cw = t.width // len(self.columns)
        size = th.font_px("body")
        pygame.draw.rect(surf, COLORS["surface"], t, border_radius=th.radius)
        for c, col in enumerate(self.columns):
            ui.draw_text(surf, col, "small", COLORS["muted"], pygame.Rect(t.x + c * cw + th.px(14), t.y + th.px(8),
                         cw - th.px(20), self.row_h), 1, align="left")
        if not self.rows:  # say so in words, not with an empty box
            ui.draw_text(surf, "table.empty", "body", COLORS["muted"],
                         pygame.Rect(t.x + th.px(20), t.y + self.row_h + th.px(20), t.width - th.px(40), th.px(120)),
                         2)
        shown = self.rows[self.page * self.per_page:(self.page + 1) * self.per_page]
        for r, row in enumerate(shown):
            y = t.y + (r + 1) * self.row_h
            if r % 2 == 0:
                pygame.draw.rect(surf, COLORS["bg"], (t.x, y, t.width, self.row_h))
            for c, cell in enumerate(row):
                fit, lines = ui.text.fit(str(cell), size, cw - th.px(24), 1)
                ui.draw_lines(surf, lines, fit, COLORS["text"], t.x + c * cw + th.px(14), y + th.px(8), align="left")
        y = t.bottom + th.px(10)
        for label, value in self.totals:
            ui.draw_text(surf, label, "body", COLORS["text"], pygame.Rect(t.x + th.px(14), y, t.width // 2,
                         self.row_h), 1, bold=True, align="left")
            fit, lines = ui.text.fit(value, size, t.width // 2 - th.px(30), 1, bold=True)
            ui.draw_lines(surf, lines, fit, COLORS["text"], t.centerx, y, bold=True, align="left")
            y += self.row_h
        super().draw(surf)


@dataclass(frozen=True)
class Stage:
    key: str  # message id
    when: str  # date text, or "" when not reached
    state: str  # done | current | pending


class TimelineScreen(Screen):
    """Progress through stages: a filled mark and a tick for done, a ring for pending (not colour alone)."""

    name = "timeline"

    def __init__(self, ui: UI, title: str, heading: str, stages: Sequence[Stage], note: str = "",
                 name: str = "timeline", count: bool = True, on_finish: Callable[[], None] | None = None,
                 **fields: Any) -> None:
        super().__init__(ui)
        self.title_key, self.heading, self.stages, self.note, self.name = title, heading, list(stages), note, name
        self.fields = fields
        self.on_finish = on_finish or (lambda: ui.go_home("finish"))
        if count and getattr(ui, "services", None) is not None:
            ui.services.count("completed")

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        w = min(area.width, th.px(640))
        self.buttons.append(Button(pygame.Rect(area.right - w, area.bottom - th.button_h, w, th.button_h),
                                   "nav.finish", self.on_finish, "primary", name="finish"))

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        y = ui.draw_text(surf, self.heading, "body", COLORS["text"], pygame.Rect(a.x, a.y, a.width, th.px(90)), 2,
                         bold=True, align="left", **self.fields) + th.px(10)
        bottom = a.bottom - th.button_h - th.px(20)
        body, n = th.font_px("body"), max(1, len(self.stages))
        note_text = ui.t(self.note, **self.fields) if self.note else ""
        note_h = th.lines_h("body", len(ui.text.wrap(note_text, body, a.width))) + th.px(10) if self.note else 0
        width, note = a.width, pygame.Rect(a.x, bottom - note_h, a.width, note_h)
        if self.note and not th.portrait and n * (th.lines_h("body") + th.px(6)) > note.y - y:
            width = self._stages_width()  # no room for both, one above the other: the note beside the stages
            note = pygame.Rect(a.x + width + th.margin, y, a.width - width - th.margin, bottom - y)
        step = min(th.px(110), ((bottom if width < a.width else note.y) - y) // n)
        self._draw_stages(surf, y, step, width)
        if self.note:
            lines = len(ui.text.wrap(note_text, body, note.width))
            ui.draw_text(surf, self.note, "body", COLORS["text"], note, max(4, lines), align="left", **self.fields)
        super().draw(surf)

    def _stages_width(self) -> int:
        """The stages' column beside the note: the longest stage, its date, and the marks."""
        ui, th = self.ui, self.ui.theme
        label = ui.text.font(th.font_px("body"), True)
        small = ui.text.font(th.font_px("small"))
        label_w = max((label.size(ui.t(s.key))[0] for s in self.stages), default=0)
        date_w = max((small.size(s.when)[0] for s in self.stages if s.when), default=0)
        return min(int(self.area.width * 0.62), th.px(110) + label_w + th.px(30) + date_w + th.px(10))

    def _draw_stages(self, surf: pygame.Surface, y: int, step: int, width: int) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        small = ui.text.font(th.font_px("small"))
        date_w = max((small.size(s.when)[0] for s in self.stages if s.when), default=0)
        date_x = a.x + width - date_w - th.px(10)  # the dates at the right, in landscape from the middle on
        if not th.portrait and width == a.width:
            date_x = min(date_x, a.x + a.width // 2 + th.px(60))
        r = th.px(22)
        for i, stage in enumerate(self.stages):
            cy = y + i * step + r
            cx = a.x + th.px(40)
            if i + 1 < len(self.stages):
                pygame.draw.line(surf, COLORS["tile_border"], (cx, cy + r), (cx, cy + step - r), th.px(4))
            if stage.state == "pending":
                pygame.draw.circle(surf, COLORS["tile_border"], (cx, cy), r, th.px(4))
            else:
                pygame.draw.circle(surf, COLORS["ok"] if stage.state == "done" else COLORS["primary"], (cx, cy), r)
                ui.text.blit(surf, "✓" if stage.state == "done" else "●", th.font_px("small"), COLORS["on_ok"], True,
                             role="glyph", center=(cx, cy))
            color = COLORS["text"] if stage.state != "pending" else COLORS["muted"]
            ui.draw_text(surf, stage.key, "body", color, pygame.Rect(cx + th.px(50), cy - r,
                         date_x - cx - th.px(70), step), 1, bold=stage.state == "current", align="left")
            if stage.when:
                ui.draw_lines(surf, [stage.when], th.font_px("small"), COLORS["muted"], date_x, cy - r, align="left")
