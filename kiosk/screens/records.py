"""A year of contributions at a glance: the twelve months on one screen (six by two in landscape,
three by four in portrait), each with its state in words (已缴 / 欠缴) and colour (and a mark, not
colour alone) and its amounts, then the year's totals under a heading that says they are the
year's ("2026年全年合计"), with the months owed counted. Printing and the way out as on any table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pygame

from kiosk.screens.base import Screen
from kiosk.screens.outcome import TableScreen
from kiosk.screens.theme import COLORS

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

# the table's columns, as the contributions flow gives them (kiosk/flows/queries.py)
MONTH, BASE, EMPLOYER, PERSONAL, STATUS = range(5)


class YearScreen(TableScreen):
    """TableScreen's data (rows, totals, printing), drawn as a year: no pages to turn."""

    def __init__(self, ui: UI, title: str, heading: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                 whole_year: int, flagged: Sequence[bool], totals: Sequence[tuple[str, str]] = (),
                 on_print: Callable[[], None] | None = None, name: str = "table", count: bool = True,
                 **fields: Any) -> None:
        super().__init__(ui, title, heading, columns, rows, totals, on_print=on_print, name=name, count=count,
                         **fields)
        self.year = whole_year  # (not `year`: the heading's fields carry one of that name)
        self.flagged = [bool(f) for f in flagged] + [False] * (len(self.rows) - len(flagged))

    @property
    def owed_months(self) -> int:
        return sum(self.flagged)

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)  # keeps rows, page and per_page meaningful for whoever reads them
        th = self.ui.theme
        self.per_page = max(1, len(self.rows))  # the whole year on one page
        self.buttons = [b for b in self.buttons if b.name not in ("prev", "next")]
        actions = [b for b in self.buttons if b.name in ("print", "finish")]
        gap = th.px(20)
        line = int(th.font_px("body") * 1.3)
        self.heading_h = line + th.px(16)
        self.shown_totals = list(self.totals)
        if th.portrait:  # the totals under the grid, the buttons in a row at the bottom
            bw = (area.width - gap * (len(actions) - 1)) // max(1, len(actions))
            for i, b in enumerate(actions):
                b.rect = pygame.Rect(area.x + i * (bw + gap), area.bottom - th.button_h, bw, th.button_h)
            self.cols, self.per_row = 3, 1
            band = line * (1 + len(self.totals)) + th.px(30)
            self.totals_box = pygame.Rect(area.x, area.bottom - th.button_h - gap - band, area.width, band)
        else:  # the totals beside the buttons, stacked at the right: the grid gets the height
            bw = min(th.px(520), area.width // 3)
            for i, b in enumerate(reversed(actions)):  # "done" at the bottom, "print" above it
                b.rect = pygame.Rect(area.right - bw, area.bottom - (i + 1) * th.button_h - i * gap, bw, th.button_h)
            self.cols = 6
            width = area.width - bw - gap
            self.per_row = 2 if self._totals_fit(width // 2 - th.px(20)) else 1
            if self.per_row == 1:  # the year's two sums only (all years' months are on the receipt):
                self.shown_totals = self.totals[:2]  # the grid keeps the height its words need
            band = max(len(actions) * th.button_h + (len(actions) - 1) * gap,
                       line * (1 + -(-len(self.shown_totals) // self.per_row)) + th.px(30))
            self.totals_box = pygame.Rect(area.x, area.bottom - band, width, band)
        n_rows = max(1, -(-len(self.rows) // self.cols))
        top, bottom = area.y + self.heading_h, self.totals_box.y - gap
        cell_gap = th.px(14)
        cw = (area.width - cell_gap * (self.cols - 1)) // self.cols
        ch = min(th.px(260), (bottom - top - cell_gap * (n_rows - 1)) // n_rows)
        self.cells = [pygame.Rect(area.x + (i % self.cols) * (cw + cell_gap), top + (i // self.cols) * (ch + cell_gap),
                                  cw, ch) for i in range(len(self.rows))]

    def _totals_fit(self, col_w: int) -> bool:
        """Whether every total's label and value sit side by side in a column `col_w` wide at the
        text size (else the totals take one column, and the grid gives up the height)."""
        th, text = self.ui.theme, self.ui.text
        plain, bold = text.font(th.font_px("body")), text.font(th.font_px("body"), True)
        label_w = max((plain.size(self.ui.t(label))[0] for label, _ in self.totals), default=0) + th.px(12)
        value_w = max((bold.size(value)[0] for _, value in self.totals), default=0) + th.px(20)
        return label_w + value_w <= col_w

    def month_label(self, month: str) -> str:
        """A month (2026-03) as 3月 / Mar: the year is in the heading. Anything else as it came."""
        m = int(month[5:7]) if len(month) >= 7 and month[5:7].isdigit() else 0
        return self.ui.t(f"records.month.m{m}") if 1 <= m <= 12 else month

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        ui.draw_text(surf, "records.year_heading", "body", COLORS["text"],
                     pygame.Rect(a.x, a.y, a.width, self.heading_h), 1, bold=True, align="left", **self.fields)
        if not self.rows:  # say so in words, not with an empty grid
            ui.draw_text(surf, "table.empty", "body", COLORS["muted"],
                         pygame.Rect(a.x, a.y + self.heading_h + th.px(20), a.width, th.px(120)), 2)
        # month and state side by side in every cell, or in two lines in every cell: the same for all
        font, pad = ui.text.font(th.font_px("body"), True), th.px(14)
        self.one_line = all(font.size(self.month_label(str(row[MONTH])))[0] + font.size(f"! {row[STATUS]}")[0]
                            + 3 * pad <= cell.width for cell, row in zip(self.cells, self.rows, strict=False))
        for cell, row, owed in zip(self.cells, self.rows, self.flagged, strict=False):
            self._draw_month(surf, cell, row, owed)
        self._draw_totals(surf)
        Screen.draw(self, surf)  # the buttons (the grid takes the table's place)

    def _draw_month(self, surf: pygame.Surface, cell: pygame.Rect, row: Sequence[str], owed: bool) -> None:
        ui, th = self.ui, self.ui.theme
        pad = th.px(14)
        pygame.draw.rect(surf, COLORS["danger_bg"] if owed else COLORS["surface"], cell, border_radius=th.radius)
        pygame.draw.rect(surf, COLORS["danger"] if owed else COLORS["tile_border"], cell,
                         width=max(2, th.px(5 if owed else 2)), border_radius=th.radius)
        inner = cell.inflate(-2 * pad, -2 * pad)
        body, small = th.font_px("body"), th.font_px("small")
        # the month, and its state in words with a mark (✓ paid, ! owed): one line when both fit
        month, status = self.month_label(str(row[MONTH])), f"{'!' if owed else '✓'} {row[STATUS]}"
        color = COLORS["danger"] if owed else COLORS["ok"]
        font = ui.text.font(body, True)
        ui.draw_lines(surf, [month], body, COLORS["text"], inner.x, inner.y, bold=True, align="left")
        if self.one_line:
            ui.draw_lines(surf, [status], body, color, inner.right - font.size(status)[0], inner.y, bold=True,
                          align="left")
        else:
            ui.draw_lines(surf, [status], body, color, inner.x, inner.y + int(body * 1.3), bold=True, align="left")
            inner = pygame.Rect(inner.x, inner.y + int(body * 1.3), inner.width, inner.height - int(body * 1.3))
        y = inner.y + int(body * 1.35)
        # what the citizen paid, then the employer's part: each at the floor (on two lines where the
        # cell is narrow) or not at all; the year's totals below and the receipt carry every figure
        for key, col in (("records.cell.personal", PERSONAL), ("records.cell.employer", EMPLOYER)):
            size, lines = ui.text.fit(ui.t(key, amount=row[col]), small, inner.width, 2)
            if size < small or y + int(small * 1.25) * len(lines) > inner.bottom:
                break
            y = ui.draw_lines(surf, lines, size, COLORS["text"], inner.x, y, align="left") + th.px(4)

    def _draw_totals(self, surf: pygame.Surface) -> None:
        ui, th, box = self.ui, self.ui.theme, self.totals_box
        pygame.draw.rect(surf, COLORS["surface"], box, border_radius=th.radius)
        pygame.draw.rect(surf, COLORS["primary"], box, width=max(2, th.px(3)), border_radius=th.radius)
        inner = box.inflate(-2 * th.px(20), -2 * th.px(12))
        line = int(th.font_px("body") * 1.3)
        # "2026年全年合计", and the months owed in words (red) when there are any
        ui.draw_text(surf, "records.year_totals", "body", COLORS["text"], pygame.Rect(inner.x, inner.y,
                     inner.width // 2, line), 1, bold=True, align="left", year=self.year)
        owed_key = "records.year_owed" if self.owed_months else "records.year_all_paid"
        ui.draw_text(surf, owed_key, "body", COLORS["danger"] if self.owed_months else COLORS["ok"],
                     pygame.Rect(inner.centerx, inner.y, inner.width // 2, line), 1, bold=True, align="left",
                     n=self.owed_months)
        per_row = self.per_row
        col_w = inner.width // per_row
        font = ui.text.font(th.font_px("body"))
        label_w = min(int(col_w * 0.6), max((font.size(ui.t(label))[0] for label, _ in self.shown_totals), default=0)
                      + th.px(12))
        for i, (label, value) in enumerate(self.shown_totals):
            x = inner.x + (i % per_row) * col_w
            y = inner.y + line * (1 + i // per_row)
            ui.draw_text(surf, label, "body", COLORS["muted"], pygame.Rect(x, y, label_w, line), 1, align="left")
            size, lines = ui.text.fit(value, th.font_px("body"), col_w - label_w - th.px(20), 1, bold=True)
            ui.draw_lines(surf, lines, size, COLORS["text"], x + label_w + th.px(10), y, bold=True, align="left")
