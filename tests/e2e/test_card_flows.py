"""Card services end to end: pyscard -> pcscd -> vpcd -> card emulator, submissions through the
sealed outbox and the sync daemon to the bureau simulator, receipts to the printer simulator."""

from __future__ import annotations

import zxingcpp
from PIL import Image

LIU = "440106199902140034"  # 刘洋: new card C00000004 on its initial PIN 123456
WANG_PIN = "258147"  # 王秀英's card A00000001 (persona "activated")


def insert(k, persona):
    k.sims.card.ctl(f"INSERT {persona}")


def test_activation_sets_a_new_pin_reaches_the_bureau_and_prints_the_reference(make_kiosk):
    k = make_kiosk()
    insert(k, "new_card")
    k.tap("tile-activate_card")
    k.shot("card-insert")
    k.screen("confirm_card")
    assert k.ui.screen.fields == {"name_masked": "刘*", "card": "C0*****04"}
    k.shot("card-activate-confirm")
    k.tap("yes")
    k.screen("pin_entry")
    k.shot("card-activate-initial-pin")
    k.type("123456")
    k.tap("confirm")
    k.screen("pin_choice")
    k.shot("card-activate-pin-choice")
    k.tap("choice-new")
    k.until(lambda: k.ui.screen.name == "pin_entry" and k.ui.screen.title_key == "card.new_pin.title", what="new PIN")
    k.type("111111")  # all equal: refused with the reason
    k.tap("confirm")
    k.until(lambda: k.ui.screen.message == "pin.problem.all_equal", what="rule message")
    k.shot("card-new-pin-refused")
    k.type("246813")
    k.tap("confirm")
    k.until(lambda: k.ui.screen.title_key == "card.new_pin.again_title", what="confirm PIN")
    k.type("246813")
    k.tap("confirm")
    result = k.screen("result", timeout=30)
    k.shot("card-activate-done")
    reference = result.reference
    assert reference.startswith("KIOSK0001-")
    assert result.receipt_note == "result.receipt_printed"
    stored = k.sims.wait_submission(reference)
    assert stored["kind"] == "card_activation"
    detail = k.sims.bureau.admin("GET", f"/submissions/{stored['idempotency_key']}")
    data = detail["payload"]["data"]
    assert {k: v for k, v in data.items() if k != "assurance"} == {"card_number": "C00000004",
                                                                   "pin_action": "set_new_pin"}
    # the card proved itself genuine online before anything was changed on it
    assert data["assurance"]["method"] == "card_pin" and data["assurance"]["card_auth_id"].startswith("CA-")
    assert detail["payload"]["citizen"]["id_number"] == LIU
    assert "246813" in k.sims.card.ctl("PIN new_card")  # the chip really has the new PIN
    receipt = k.sims.printer.receipts[-1]
    codes = zxingcpp.read_barcodes(Image.open(receipt.png))
    assert [c.text for c in codes] == [reference]
    assert LIU not in receipt.text and "刘洋" not in receipt.text  # masked on paper
    usage = k.ui.services.usage.totals()["activate_card"]
    assert usage.get("started", 0) >= 1 and usage.get("completed", 0) >= 1
    k.tap("finish")
    k.screen("take_card")
    k.shot("card-take")
    assert k.ui.sessions.session is None  # personal data already wiped
    k.sims.card.ctl("REMOVE")
    k.screen("home", timeout=15)


def test_wrong_pin_shows_attempts_left_then_blocked_is_final(make_kiosk):
    k = make_kiosk("en")
    insert(k, "activated")
    k.tap("tile-change_pin")
    k.screen("pin_entry")
    for left in (2, 1):
        k.type("000000")
        k.tap("confirm")
        k.until(lambda n=left: k.ui.screen.name == "pin_entry" and k.ui.screen.attempts_left == n, what=f"{left} left")
    k.shot("card-pin-wrong")
    k.type("000000")
    k.tap("confirm")
    k.until(lambda: k.ui.screen.name == "message" and k.ui.screen.heading == "card.error.pin_blocked.title")
    k.shot("card-pin-blocked")
    assert [b.name for b in k.ui.screen.buttons] == ["home"]  # never offered as retryable


def test_change_pin(make_kiosk):
    k = make_kiosk()
    insert(k, "activated")
    k.tap("tile-change_pin")
    k.screen("pin_entry")
    k.type(WANG_PIN)
    k.tap("confirm")
    k.until(lambda: k.ui.screen.title_key == "card.new_pin.title", what="new PIN")
    for _ in range(2):
        k.type("592604")
        k.tap("confirm")
        k.frame()
    k.screen("result", timeout=20)
    k.shot("card-change-done")
    assert "592604" in k.sims.card.ctl("PIN activated")


def test_bank_card_and_blocked_card_are_explained(make_kiosk):
    k = make_kiosk()
    insert(k, "bank_only")
    k.tap("tile-change_pin")
    k.until(lambda: k.ui.screen.name == "message", what="bank card message")
    assert k.ui.screen.heading == "card.error.bank_only.title"
    k.shot("card-bank-only")


def test_card_pulled_out_mid_read_says_so_and_offers_to_insert_again(make_kiosk):
    k = make_kiosk("en")
    insert(k, "activated")
    import time
    time.sleep(1.0)  # let pcscd see the card before the emulator goes quiet
    k.sims.card.ctl("STALL 3")  # SELECT and two records answered, the third hangs
    k.tap("tile-change_pin")
    k.sims.card.ctl("WAIT-STALLED 10")
    k.sims.card.ctl("REMOVE")
    k.until(lambda: k.ui.screen.name == "message", timeout=30, what="removed message")
    assert k.ui.screen.heading == "card.error.removed.title"
    k.shot("card-removed")
    k.tap("retry")
    k.screen("insert_card")


def test_a_forgotten_card_sounds_the_buzzer(make_kiosk):
    from kiosk.screens.card_screens import TakeCardScreen

    k = make_kiosk()
    insert(k, "activated")
    k.ui.show(TakeCardScreen(k.ui))
    k.clock.advance(k.cfg["card.forgotten_s"] + 1)
    k.frame()
    assert k.ui.screen.reminded
    k.shot("card-forgotten")
    assert k.ui.gpio.buzzer.is_active or k.ui.gpio.buzzer._blink_thread is not None


def test_paper_out_during_a_flow_leaves_the_reference_on_screen_and_in_the_log(make_kiosk):
    k = make_kiosk("en")
    k.sims.printer.set_state("paper_out")
    try:
        insert(k, "new_card_3")
        k.tap("tile-activate_card")
        k.screen("confirm_card")
        k.tap("yes")
        k.screen("pin_entry")
        k.type("123456")
        k.tap("confirm")
        k.screen("pin_choice")
        k.tap("choice-new")
        k.until(lambda: k.ui.screen.name == "pin_entry" and k.ui.screen.title_key == "card.new_pin.title")
        for _ in range(2):
            k.type("246813")
            k.tap("confirm")
            k.frame()
        result = k.screen("result", timeout=30)
        assert result.receipt_note.startswith("receipt.outcome.paper_out")
        assert result.reference  # large on screen and as a QR code: the way forward without paper
        k.shot("receipt-paper-out")
        failures = k.ui.services.printing.recent_failures
        assert failures and failures[-1].reason.endswith("paper_out")
        page = k.ui.maintenance.diagnostics.page("printer")
        assert any("card_activation" in line and "paper_out" in line for line in page.lines)
    finally:
        k.sims.printer.set_state("ok")


def test_activation_keeping_the_old_medical_cards_pin(make_kiosk):
    """GIVEN a new card and the holder's old medical card WHEN she keeps the old PIN THEN it is
    checked on the old card, written to the new one, and the bureau records adopted_medical_card_pin."""
    k = make_kiosk()
    insert(k, "new_card_2")
    k.tap("tile-activate_card")
    k.screen("confirm_card")
    k.tap("yes")
    k.screen("pin_entry")
    k.type("123456")
    k.tap("confirm")
    k.screen("pin_choice")
    k.tap("choice-keep")
    k.screen("swap_card")
    k.shot("card-adopt-take-new")
    k.sims.card.ctl("REMOVE")
    k.screen("insert_card")
    insert(k, "old_medical")
    k.screen("pin_entry")
    k.type("864209")
    k.tap("confirm")
    k.screen("swap_card")
    k.shot("card-adopt-take-old")
    k.sims.card.ctl("REMOVE")
    k.screen("insert_card")
    insert(k, "new_card_2")
    result = k.screen("result", timeout=30)
    assert "864209" in k.sims.card.ctl("PIN new_card_2")
    payload = k.sims.bureau.admin("GET", f"/submissions/{k.sims.wait_submission(result.reference)['idempotency_key']}")
    data = payload["payload"]["data"]
    assert {k: v for k, v in data.items() if k != "assurance"} == {"card_number": "C00000013",
                                                                   "pin_action": "adopted_medical_card_pin"}
    assert data["assurance"]["card_number"] == "C00000013"
