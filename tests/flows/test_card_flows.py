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


# ------------------------------------------------------------------------- activation's other ends
def activate_until_status(counter, persona: str, pin_code: str, **kw):
    counter.insert(persona)
    return counter.run(ActivateCard, script((confirm("confirm_card"), True), (pin("card.activate.pin_title"), pin_code),
                                            *kw.pop("more", ())), **kw)


def test_activation_of_an_active_card_changes_nothing(counter):
    run = activate_until_status(counter, "activated", WANG_PIN)
    assert run.outcome.result is Result.INFO and run.outcome.name == "already_active"
    assert WANG_PIN in counter.sims.card.ctl("PIN activated")


def test_activation_of_a_card_reported_lost_is_refused(counter):
    run = activate_until_status(counter, "reported_lost", "520131")
    assert run.outcome.result is Result.FAILED and run.outcome.title == "card.status.reported_lost.title"


def test_a_forged_card_is_refused_before_anything_is_asked(counter):
    counter.insert("forged")
    run = counter.run(ActivateCard, script())
    assert run.outcome.result is Result.FAILED and run.outcome.name == "not_genuine"
    assert run.kinds() == ["WaitForCard", "Work"]  # no confirmation, no PIN


def test_activation_says_so_first_when_nothing_can_be_stored(counter):
    from kiosk.services.container import OutboxLink
    from kiosk.services.desk import Desk

    services = counter.desk.services
    kept, services.outbox = services.outbox, OutboxLink(None, "health.outbox.no_key")
    try:
        counter.desk = Desk(services)
        run = counter.run(ActivateCard, script())
    finally:
        services.outbox = kept
    assert run.outcome.result is Result.FAILED and run.outcome.name == "storage"
    assert run.steps == []  # not even the card was asked for


def test_activation_the_bureau_has_not_acknowledged_is_accepted_pending(counter):
    drop = lambda rate: counter.sims.bureau.admin("PUT", "/faults", {"drop_rate": rate})  # noqa: E731

    def citizen(work):
        if work.name == "activate":
            drop(1.0)  # the network goes as the card is written

    try:
        run = activate_until_status(counter, "new_card_4", "123456", before_work=citizen, more=(
            (choice("pin_choice"), "new"), (pin("card.new_pin.title"), "246813"),
            (pin("card.new_pin.again_title"), "246813")))
    finally:
        drop(0)
    out = run.outcome
    assert out.result is Result.PENDING and out.title == "card.activate.pending.title", out
    assert counter.desk.services.outbox.outbox.holds(out.reference) or counter.sims.wait_submission(out.reference)
    assert "246813" in counter.sims.card.ctl("PIN new_card_4")  # the card has it: the bureau decides later


def test_keeping_the_old_pin_gives_up_when_the_card_never_comes_out(counter):
    from dataclasses import replace

    counter.desk.settings = replace(counter.desk.settings, card_wait_s=1.0)
    run = activate_until_status(counter, "new_card_3", "123456", more=((choice("pin_choice"), "keep"),))
    assert run.outcome.result is Result.FAILED and run.outcome.name == "swap_timeout"
    assert "123456" in counter.sims.card.ctl("PIN new_card_3")  # nothing was written
