"""Contribution records as the review asked: a whole year on one screen (twelve months, no page
to turn, in landscape and portrait, care mode on and off), the months owed marked in words and
colour, and totals headed as the year's ("2026年全年合计"). The answer comes from the flow
(ContributionRecords.step_records) the way the bureau's answer reaches it. Screenshots in
out/test-artifacts/records/."""

from __future__ import annotations

from decimal import Decimal

import pygame
import pytest

from kiosk.flows.queries import ContributionRecords
from kiosk.screens.flow_host import start_flow
from kiosk.screens.theme import COLORS
from kiosk.services.queries import PaymentRecords, PaymentRow
from tests.conftest import ARTIFACTS
from tests.ui.harness import make_harness

OUT = ARTIFACTS / "records"
OWED = ("2026-11", "2026-12")
RECORDS = PaymentRecords(
    "pension", 2026,
    tuple(PaymentRow(f"2026-{m:02d}", Decimal("6900"), Decimal("1104"), Decimal("552"), f"2026-{m:02d}" not in OWED)
          for m in range(1, 13)),
    Decimal("11040"), Decimal("5520"), months_paid_total=342)


class Answered(ContributionRecords):
    """The contributions flow at its answer (tests/flows and tests/e2e ask the bureau simulator)."""

    def start(self):
        return self.step_records(RECORDS)


def drawn(h) -> list[str]:
    seen: list[str] = []
    original = h.ui.draw_lines

    def spy(surf, lines, size, *args, **kw):
        seen.append("".join(lines))
        return original(surf, lines, size, *args, **kw)

    h.ui.draw_lines = spy
    try:
        h.frame()
    finally:
        del h.ui.draw_lines
    return seen


@pytest.mark.parametrize("lang,size", [("zh_CN", (1920, 1080)), ("en", (1920, 1080)), ("zh_CN", (1080, 1920)),
                                       ("zh_CN", (1280, 800))])
def test_a_whole_year_on_one_screen_with_the_months_owed_marked(tmp_path, lang, size):
    h = make_harness(tmp_path, size=size, lang=lang)
    try:
        h.ui.sessions.begin(h.clock.monotonic())
        for care in (False, True):
            if h.ui.sessions.care_mode != care:
                h.ui.toggle_care_mode()
            start_flow(h.ui, Answered)
            screen = h.ui.screen
            assert screen.name == "records"
            # Twelve months, each in its own cell inside the content, none over another, no pages.
            assert len(screen.cells) == 12
            assert all(h.ui.content_area().contains(c) for c in screen.cells)
            assert not any(a.colliderect(b) for i, a in enumerate(screen.cells) for b in screen.cells[i + 1:])
            assert not any(screen.totals_box.colliderect(c) for c in screen.cells)
            assert {b.name for b in screen.buttons} == {"print", "finish"}  # nothing to page through
            assert screen.per_page >= len(screen.rows) == 12
            seen = drawn(h)
            text = "\n".join(seen)
            # The months owed in words, and their cells in the danger colour (paid ones are not).
            owed_word, paid_word = h.ui.t("records.owed"), h.ui.t("records.paid")
            assert seen.count(f"! {owed_word}") == 2 and seen.count(f"✓ {paid_word}") == 10  # a mark, not colour alone
            for i, cell in enumerate(screen.cells):
                edge = h.ui.surface.get_at((cell.centerx, cell.y + 1))[:3]
                assert (edge == COLORS["danger"]) == (RECORDS.rows[i].month in OWED), (i, edge)
            # The totals are the year's, with the months owed counted.
            assert h.ui.t("records.year_totals", year=2026) in text
            assert h.ui.t("records.year_owed", n=2) in text
            assert ("2026年全年合计" in text) if lang == "zh_CN" else ("2026" in h.ui.t("records.year_totals", year=2026))
            w, hh = size
            if care or w == 1920:  # every size with the larger text, and the usual landscape plain
                OUT.mkdir(parents=True, exist_ok=True)
                pygame.image.save(h.ui.surface, str(OUT / f"{lang}-{w}x{hh}{'-care' if care else ''}.png"))
            h.ui.go_home("test")
            h.ui.sessions.begin(h.clock.monotonic())
    finally:
        h.close()
