"""The result screen as the review asked: what the citizen came for first (a certification's
validity), the reference number last and smaller, "办理其他业务" on every result, and a printer out of
paper that still leaves a way to the reference without a phone: call staff, or print again once
the paper is back (the printer simulator over TCP, as in the hall). Screenshots in
out/test-artifacts/results/."""

from __future__ import annotations

import datetime as dt
import time

import pygame
import pytest

from kiosk.flows import Flow
from kiosk.flows import steps as st
from kiosk.flows.certify import PensionAuth, valid_until
from kiosk.hw.printer_escpos import EscposPrinter, PrinterSpec
from kiosk.services import receipts
from kiosk.services.container import Submitted
from kiosk.services.printing import PrintService
from simulators.printer import PrinterSimulator
from tests.conftest import ARTIFACTS
from tests.ui.harness import make_harness

OUT = ARTIFACTS / "results"
REF = "KIOSK0001-20261201-000007-K"


def test_a_certification_holds_for_the_configured_months():
    assert valid_until(dt.date(2026, 12, 1), 12) == dt.date(2027, 11, 30)
    assert valid_until(dt.date(2026, 1, 1), 12) == dt.date(2026, 12, 31)
    assert valid_until(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)  # no 29 February in 2025
    assert valid_until(dt.date(2026, 8, 31), 6) == dt.date(2027, 2, 28)


class _Desk:
    """What step_submitted asks of the desk: the clock (trusted or not) and the configuration."""

    def __init__(self, today: dt.date | None) -> None:
        self.today, self.cfg = today, {"certify.valid_months": 12}

    def trusted_today(self) -> dt.date | None:
        return self.today


@pytest.mark.parametrize("trusted", [True, False])
def test_a_passed_certification_says_until_when_it_holds(trusted):
    from kiosk.flows import Context
    from kiosk.flows.certify import Case
    from kiosk.services.certification import Person

    flow = PensionAuth(Context(desk=_Desk(dt.date(2026, 12, 1) if trusted else None)))
    flow.case = Case(Person("110105195803120029", "王秀英"), None, False)
    flow.match = object()  # the bureau's face match passed
    out = flow.step_submitted(Submitted(REF, queued_offline=False))
    if trusted:
        label, value = out.facts[0]  # first: what the citizen came for
        assert label == "certify.fact.valid_until" and value.fields["until"] == dt.date(2027, 11, 30)
    else:
        assert out.facts == ()  # an untrusted clock states no date
    queued = flow.step_submitted(Submitted(REF, queued_offline=True))
    assert queued.facts == ()  # not recorded by the bureau yet: nothing holds until any date


class WithReceipt(Flow):
    """A finished certification with its receipt, as the certification flows end."""

    service_id = "pension_auth"
    title = "service.pension_auth.title"
    STAGES = ("result",)

    def start(self):
        desk = self.desk

        def receipt():
            return receipts.pension_auth(desk.receipt_context(), id_number="110105195803120029", name="王秀英",
                                         reference=REF, verdict=receipts.Verdict.PASSED,
                                         valid_until=dt.date(2027, 11, 30))

        return st.done("certify.done.pension_auth_passed", "certify.done.passed_body", reference=REF,
                       receipt=receipt, name="pension_auth_done",
                       facts=(("certify.fact.valid_until",
                               st.Text("certify.valid_until", until=dt.date(2027, 11, 30))),))


def until_result(h, deadline_s: float = 20.0):
    end = time.monotonic() + deadline_s
    while True:
        h.frame()
        if h.ui.screen.name == "result":
            return h.ui.screen
        assert time.monotonic() < end, h.ui.screen.name
        time.sleep(0.01)


def spy(h):
    """Records, in order, what one frame draws: ("key", id) by message id and ("lines", text, px)."""
    seen: list[tuple] = []
    draw_text, draw_lines = h.ui.draw_text, h.ui.draw_lines

    def text(surf, key, role, color, rect, *args, **fields):
        seen.append(("key", key))
        return draw_text(surf, key, role, color, rect, *args, **fields)

    def lines(surf, lns, size, *args, **kw):
        seen.append(("lines", "".join(lns), size))
        return draw_lines(surf, lns, size, *args, **kw)

    h.ui.draw_text, h.ui.draw_lines = text, lines
    try:
        h.frame()
    finally:
        del h.ui.draw_text, h.ui.draw_lines
    return seen


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_validity_first_reference_smaller_and_no_paper_still_gives_the_reference(tmp_path, lang):
    h = make_harness(tmp_path, lang=lang)
    with PrinterSimulator(port=0, out_dir=tmp_path / "printer", width_dots=384, idle_timeout=5) as sim:
        try:
            printer = EscposPrinter(PrinterSpec("tcp", host="127.0.0.1", port=sim.port), paper_mm=58, timeout_s=2.0)
            h.ui.services.printing = PrintService(printer, h.ui.services.cfg)
            sim.set_state("paper_out")
            from kiosk.screens.flow_host import start_flow

            h.ui.sessions.begin(h.clock.monotonic())
            host = start_flow(h.ui, WithReceipt)
            screen = until_result(h)
            assert screen.receipt_note == "receipt.outcome.paper_out"

            # Validity first, then the body, the reference last and no larger than body text.
            seen = spy(h)
            keys = [s[1] for s in seen if s[0] == "key"]
            assert keys.index("certify.fact.valid_until") < keys.index("certify.done.passed_body") \
                < keys.index("result.reference")
            ref_px = next(s[2] for s in seen if s[0] == "lines" and s[1] == REF)
            th = h.ui.theme
            assert ref_px <= th.font_px("body") < th.font_px("title")
            until = next(s[1] for s in seen if s[0] == "lines" and "2027" in s[1])
            assert until == h.ui.t("certify.valid_until", until=dt.date(2027, 11, 30))

            # Out of paper: the staff (by the words that name them) and printing again; another
            # service from the footer; the footer does not repeat "call staff".
            names = [b.name for b in screen.buttons]
            assert "staff" in names and "reprint" in names
            bar = [b.name for b in h.ui.bar_buttons]
            assert "another" in bar and "staff" not in bar
            assert "result.no_receipt_reprint" in keys
            OUT.mkdir(parents=True, exist_ok=True)
            pygame.image.save(h.ui.surface, str(OUT / f"{lang}-paper-out.png"))
            h.tap_button("staff")
            assert h.ui.toast is not None and h.ui.toast[0] == "staff.called"

            sim.set_state("ok")  # the staff loaded paper
            h.tap_button("reprint")
            screen = until_result(h)
            assert screen.receipt_note == "result.receipt_printed"
            assert "reprint" not in [b.name for b in screen.buttons]
            printed = sim.wait_for_receipts(1)
            assert len(printed) == 1
            assert host.runner.current.name == "pension_auth_done"
            pygame.image.save(h.ui.surface, str(OUT / f"{lang}-printed.png"))
        finally:
            h.close()


def test_another_service_on_a_result_without_identification(tmp_path):
    """A result for someone who never identified (consent declined): "办理其他业务" all the same."""
    h = make_harness(tmp_path)
    try:
        from kiosk.screens.flow_host import start_flow

        class Declined(Flow):
            service_id = "pension_auth"
            title = "service.pension_auth.title"

            def start(self):
                return st.info("consent.declined.title", "consent.declined.body", name="consent_declined")

        h.ui.sessions.begin(h.clock.monotonic())
        host = start_flow(h.ui, Declined)
        assert host.flow.identity is None
        assert "another" in [b.name for b in h.ui.bar_buttons]
        h.tap_button("another")
        assert h.ui.screen.is_home and h.ui.sessions.session is not None  # the session goes on
    finally:
        h.close()


def test_a_table_that_fits_one_page_shows_no_page_buttons_and_a_longer_one_turns_its_pages(tmp_path):
    """GIVEN a table whose rows fit one page WHEN shown THEN no (greyed-out) 上一页/下一页 buttons,
    only printing and the way out; GIVEN one with more rows THEN "next" shows the second page and
    "previous" the first again."""
    from kiosk.screens.outcome import TableScreen

    h = make_harness(tmp_path)
    try:
        h.ui.sessions.begin(h.clock.monotonic())
        short = TableScreen(h.ui, "records.bar", "records.heading", ["records.col.month"], [["2026-01"]] * 3,
                            on_print=lambda: None, count=False, insurance="养老", year=2026)
        h.ui.show(short)
        h.frame()
        assert short.pages == 1 and [b.name for b in short.buttons] == ["print"]
        long = TableScreen(h.ui, "records.bar", "records.heading", ["records.col.month"],
                           [[f"2026-{m:02d}"] for m in range(1, 41)], on_print=lambda: None, count=False,
                           insurance="养老", year=2026)
        h.ui.show(long)
        h.frame()
        assert long.pages > 1 and [b.name for b in long.buttons] == ["prev", "next", "print"]
        h.tap_button("next")
        assert long.page == 1
        h.tap_button("prev")
        assert long.page == 0
    finally:
        h.close()
