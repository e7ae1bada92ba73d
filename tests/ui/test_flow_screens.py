"""Every screen of every citizen flow, rendered from fixture states in both languages at
1920x1080 and 1080x1920 (the flows themselves run end to end in tests/e2e), plus a contact
sheet: one PNG with all of them, for review."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from PIL import Image, ImageDraw

from kiosk.hw.health import DeviceHealth
from kiosk.i18n import KEY_PATTERN
from kiosk.screens import card_screens, common, entry, outcome, request_screens
from kiosk.screens.records import YearScreen
from kiosk.services.queries import INSURANCES, STAGES, yuan
from tests.conftest import ARTIFACTS
from tests.ui.harness import make_harness

OUT = ARTIFACTS / "flow-screens"
OFFLINE = {"activation-done", "lost-confirm", "query-offline"}  # their words say the bureau is unreachable
BARS = {"lost-confirm": "service.report_lost.title", "apply-confirm": "service.apply_card.title",
        "balances": "service.balances.title"}
SIZES = [(1920, 1080), (1080, 1920)]


class _Reader:
    """Stands for the card reader: these screens are drawn, not driven (tests/e2e drives them)."""

    name = "reader"

    def health(self):
        from kiosk.hw.health import DeviceHealth

        return DeviceHealth.ok()

    def wait_for_card(self, timeout):
        import threading

        threading.Event().wait(2)  # nobody inserts a card here: the screen keeps waiting
        return False

    def card_present(self):
        return True

    def close(self):
        pass


def screens(ui):
    rows = [(f"2024-{m:02d}", yuan(Decimal("6900")), yuan(Decimal("1104")), yuan(Decimal("552")),
             ui.t("records.owed") if m > 10 else ui.t("records.paid")) for m in range(1, 13)]
    stages = [outcome.Stage(f"progress.stage.{s}", "2025-03-04" if i <= 4 else "",
                            "done" if i < 4 else "current" if i == 4 else "pending") for i, s in enumerate(STAGES)]
    return {
        "insert-card": lambda: card_screens.InsertCardScreen(ui, 30.0),
        "place-idcard": lambda: card_screens.PlaceIdCardScreen(ui, 30.0),
        "scan-qr": lambda: card_screens.ShowQrScreen(ui, 30.0),
        "pin-wrong": lambda: entry.PinEntryScreen(ui, lambda p: None, attempts_left=1, message="card.pin.wrong"),
        "pin-initial": lambda: entry.PinEntryScreen(ui, lambda p: None, hint="card.pin.initial_hint"),
        "new-pin-refused": lambda: entry.PinEntryScreen(ui, lambda p: None, message="pin.problem.straight_run"),
        "identify": lambda: common.ChoiceScreen(ui, "identify.bar", "identify.prompt", [
            common.Choice("identify.card", "card", "identify.card_hint"),
            common.Choice("identify.face", "face", "identify.face_hint")], lambda v: None),
        "pick-insurance": lambda: common.ChoiceScreen(ui, "records.bar", "records.pick_insurance",
                                                      [common.Choice(f"insurance.{k}", k) for k in INSURANCES],
                                                      lambda v: None),
        "pick-year": lambda: common.ChoiceScreen(ui, "records.bar", "records.pick_year",
                                                 [common.Choice("records.year", y, fields={"year": y})
                                                  for y in (2026, 2025, 2024, 2023)], lambda v: None),
        "query-wait": lambda: common.WaitScreen(ui, "wait.bar", "query.waiting", 15, lambda: None),
        "records-table": lambda: YearScreen(  # the whole year, the months owed marked
            ui, "records.bar", "records.heading", ["records.col.month", "records.col.base", "records.col.employer",
                                                   "records.col.personal", "records.col.status"], rows, 2024,
            [m > 10 for m in range(1, 13)],
            [("records.total_employer", "11,040.00"), ("records.total_personal", "5,520.00"),
             ("records.months_total", ui.t("records.months", n=342))], on_print=lambda: None,
            insurance=ui.t("insurance.pension"), year=2024),
        "balances": lambda: outcome.ResultScreen(
            ui, "balance.title", "balance.arrears_body", kind="info",
            facts=[("balance.pension_total", "86,420.15"), ("balance.pension_months", ui.t("records.months", n=342)),
                   ("balance.medical", "1,532.40"),
                   ("insurance.pension", ui.t("balance.owed", amount="1,656.00", since="2024-11"))],
            as_of="2025-06-30", total="2,208.00"),
        "progress": lambda: outcome.TimelineScreen(ui, "progress.bar", "progress.heading", stages,
                                                   note="progress.ready_note", outlet="中国银行西安雁塔支行",
                                                   address="西安市雁塔区长安南路 88 号", hours="09:00-17:00"),
        "activation-done": lambda: outcome.ResultScreen(ui, "card.activate.done.title", "card.activate.done.queued",
                                                        reference="KIOSK0001-20251122-000042-7",
                                                        receipt_note="receipt.outcome.paper_out"),
        "query-offline": lambda: common.MessageScreen(ui, "query.error.offline.title", "query.error.offline.body",
                                                      [common.Action("nav.try_again", lambda: None, name="retry"),
                                                       common.Action("nav.home", lambda: None, "secondary")]),
        "pin-blocked": lambda: common.MessageScreen(ui, "card.error.pin_blocked.title",
                                                    "card.error.pin_blocked.body",
                                                    [common.Action("nav.home", lambda: None)]),
        "take-card": lambda: card_screens.TakeCardScreen(ui),
        "lost-confirm": lambda: common.MessageScreen(
            ui, "lost.confirm.title", "lost.confirm.offline",
            [common.Action("lost.confirm.yes", lambda: None, "danger"), common.Action("nav.home", lambda: None,
                                                                                    "secondary")],
            kind="info", until="2026-12-22", days=30),
        "apply-outlet": lambda: common.ChoiceScreen(
            ui, "apply.bar", "apply.pick_outlet",
            [common.Choice("apply.outlet", f"O{i}", "apply.outlet_hint",
                           fields={"name": n, "address": a}) for i, (n, a) in enumerate(
                [("中国工商银行北京朝阳支行", "北京市朝阳区建国路 1 号"),
                 ("中国建设银行北京西城支行", "北京市西城区金融街 25 号")])], lambda v: None, columns=1),
        "apply-reason": lambda: common.ChoiceScreen(
            ui, "apply.bar", "apply.pick_reason",
            [common.Choice(f"apply.reason.{r}", r) for r in ("first_issue", "replacement", "renewal")],
            lambda v: None, columns=1),
        "apply-phone": lambda: request_screens.PhoneScreen(ui, lambda p: None),
        "apply-confirm": lambda: common.MessageScreen(
            ui, "apply.confirm.title", "apply.confirm.body",
            [common.Action("apply.confirm.yes", lambda: None), common.Action("nav.home", lambda: None, "secondary")],
            kind="info", name_masked="周*兰", outlet="中国工商银行北京朝阳支行", address="北京市朝阳区建国路 1 号",
            phone="138****5678", reason=ui.t("apply.reason.replacement")),
    }


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_flow_screens_render_in_both_languages(tmp_path, lang, size):
    OUT.mkdir(parents=True, exist_ok=True)
    h = make_harness(tmp_path, size, lang)
    try:
        h.ui.sessions.default_language = lang
        h.ui.services.devices.reader = _Reader()
        for name, make in screens(h.ui).items():
            h.ui.go_home()
            # a screen that says the bureau cannot be reached is drawn with the bureau unreachable,
            # as the flow meets it (tests/ui/test_hall_home.py: the indicator follows at once)
            h.set_health("bureau", DeviceHealth.offline("health.bureau.unreachable") if name in OFFLINE
                         else DeviceHealth.ok())
            h.ui.sessions.begin(h.clock.monotonic())
            screen = make()
            if name in BARS:  # the flow host names the service in the bar (never 提示)
                screen.title_key = BARS[name]
            h.ui.show(screen)
            h.frame()
            if name in OFFLINE:
                assert h.ui.t("net.offline") in h.ui.text.rendered, name
            assert h.ui.screen.name != "failsafe", name
            h.ui.screenshot(str(OUT / f"{lang}-{size[0]}x{size[1]}-{name}.png"))
            drawn = {t for t in h.ui.text.rendered if t.strip()}
            assert not [t for t in drawn if KEY_PATTERN.match(t.strip())], (name, drawn)
            assert not h.ui.translators[lang].missing, (name, h.ui.translators[lang].missing)
            if lang == "en":
                chinese = [t for t in drawn if re.search(r"[\u4e00-\u9fff]", t)
                           and t != "中文" and name not in ("progress", "apply-outlet", "apply-confirm")]
                # an outlet's name and address stay as the bureau writes them
                assert not chinese, (name, chinese)
    finally:
        h.close()


def test_contact_sheet_of_every_screen():
    """One PNG with every saved screenshot, four across, labelled."""
    files = sorted(p for d in ("screens", "flow-screens", "maintenance", "flows") if (ARTIFACTS / d).exists()
                   for p in (ARTIFACTS / d).glob("*.png"))
    # The render tests above in this module write screenshots first (pytest runs a file in order).
    assert files, "no screenshots to put on the sheet"
    thumb_w, cols = 480, 4
    thumbs = []
    for f in files:
        with Image.open(f) as opened:
            img = opened.convert("RGB")
            img.thumbnail((thumb_w, thumb_w))
            thumbs.append((f.stem, img.copy()))
    cell_h = max(t.height for _, t in thumbs) + 24
    rows = (len(thumbs) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * thumb_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (name, img) in enumerate(thumbs):
        x, y = (i % cols) * thumb_w, (i // cols) * cell_h
        sheet.paste(img, (x, y + 22))
        draw.text((x + 4, y + 4), name[:70], fill="black")
    sheet.save(ARTIFACTS / "contact-sheet.png")
    assert sheet.size[1] > cell_h
