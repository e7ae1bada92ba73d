"""The card flows run headless to each of their outcomes against the simulators."""

from __future__ import annotations

from kiosk.flows.card import ActivateCard, ChangePin, ResetPin
from kiosk.flows.steps import AskConsent, AskIdNumber, AskName, AskPictures, AskPin, Result, SwapCard, WaitForCard
from tests.flows.conftest import choice, confirm, kind, pin, script

LIU = "440106199902140034"  # 刘洋: new card C00000004 on its initial PIN 123456
WANG_PIN = "258147"


def test_activation_done_when_the_bureau_acknowledged(counter):
    counter.insert("new_card")
    run = counter.run(ActivateCard, script(
        (confirm("confirm_card"), True),
        (pin("card.activate.pin_title"), "123456"),
        (choice("pin_choice"), "new"),
        (pin("card.new_pin.title"), "111111"),
        (pin("card.new_pin.title", "pin.problem.all_equal"), "246813"),
        (pin("card.new_pin.again_title"), "246813")))
    out = run.outcome
    assert out.result is Result.DONE and out.title == "card.activate.done.title"
    assert out.reference.startswith("KIOSK0001-")
    assert run.receipt_note == "result.receipt_printed"
    assert isinstance(run.steps[0], WaitForCard)
    stored = counter.sims.wait_submission(out.reference)
    assert stored["kind"] == "card_activation"
    assert "246813" in counter.sims.card.ctl("PIN new_card")
    # the confirmation showed the card masked, never in full
    ask = next(s for s in run.steps if getattr(s, "name", "") == "confirm_card")
    assert ask.fields == {"name_masked": "刘*", "card": "C0*****04"}


def test_activation_keeps_the_old_medical_card_pin(counter):
    """GIVEN a new card and the holder's old medical card WHEN she keeps the old PIN THEN it is
    checked on the old card, written to the new one, and the bureau records adopted_medical_card_pin."""
    counter.insert("new_card_2")
    swaps = iter(["REMOVE", "INSERT old_medical", "REMOVE", "INSERT new_card_2"])

    def citizen(work):  # does what the screen asks while the flow waits
        if isinstance(work, (SwapCard, WaitForCard)) and len(counter.remembered) > 0:
            counter.sims.card.ctl(next(swaps))

    run = counter.run(ActivateCard, script(
        (confirm("confirm_card"), True),
        (pin("card.activate.pin_title"), "123456"),
        (choice("pin_choice"), "keep"),
        (pin("card.adopt.old_pin_title"), "864209")), before_work=citizen)
    assert run.kinds().count("SwapCard") == 2, run.kinds()
    assert run.outcome.result is Result.DONE, run.outcome
    assert "864209" in counter.sims.card.ctl("PIN new_card_2")
    detail = counter.sims.bureau.admin(
        "GET", f"/submissions/{counter.sims.wait_submission(run.outcome.reference)['idempotency_key']}")
    assert detail["payload"]["data"]["pin_action"] == "adopted_medical_card_pin"


def test_change_pin_wrong_then_blocked_is_final(counter):
    counter.insert("activated")
    run = counter.run(ChangePin, script(
        (pin("card.change.old_title"), "000000"),
        (lambda a: isinstance(a, AskPin) and a.attempts_left == 2, "000000"),
        (lambda a: isinstance(a, AskPin) and a.attempts_left == 1, "000000")))
    assert run.outcome.result is Result.FAILED and run.outcome.title == "card.error.pin_blocked.title"
    assert not run.outcome.retry


def test_change_pin_done(counter):
    counter.insert("activated")
    run = counter.run(ChangePin, script(
        (pin("card.change.old_title"), WANG_PIN),
        (pin("card.new_pin.title"), "592604"),
        (pin("card.new_pin.again_title"), "592604")))
    assert run.outcome.result is Result.DONE
    assert "592604" in counter.sims.card.ctl("PIN activated")


def test_bank_card_is_explained_without_retry(counter):
    counter.insert("bank_only")
    run = counter.run(ChangePin, script())
    assert run.outcome.result is Result.FAILED and run.outcome.title == "card.error.bank_only.title"


WANG = "110105195803120029"  # 王秀英: card A00000001 (persona "activated"), a photo of record


def test_reset_pin_after_the_face_check(counter):
    counter.insert("activated")
    run = counter.run(ResetPin, script(
        (kind(AskIdNumber), WANG),
        (kind(AskName), "王秀英"),
        (kind(AskConsent), True),
        (kind(AskPictures), True),
        (pin("card.new_pin.title"), "307519"),
        (pin("card.new_pin.again_title"), "307519")))
    assert run.outcome.result is Result.DONE, run.outcome
    assert "307519" in counter.sims.card.ctl("PIN activated")
    payload = counter.sims.bureau.admin(
        "GET", f"/submissions/{counter.sims.wait_submission(run.outcome.reference)['idempotency_key']}")["payload"]
    assert payload["kind"] == "pin_reset" and payload["data"]["assurance"]["method"] == "face_match"


def test_reset_pin_refuses_a_card_of_someone_else(counter):
    counter.insert("new_card_3")
    run = counter.run(ResetPin, script(
        (kind(AskIdNumber), WANG), (kind(AskName), "王秀英"), (kind(AskConsent), True), (kind(AskPictures), True)))
    assert run.outcome.result is Result.FAILED and run.outcome.name == "not_holder"
