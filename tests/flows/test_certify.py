"""The face certification flows run headless to each of their outcomes against the simulators:
the card emulator, the synthetic camera through the real liveness pipeline, the bureau's face match
behind the sync daemon, the sealed outbox and the printer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from kiosk.flows.certify import AnnualReview, FamilyAuth, PensionAuth
from kiosk.flows.steps import AskConsent, AskIdNumber, AskName, AskPictures, AskReview, CheckLiveness, Result
from kiosk.services import receipts
from tests.flows.conftest import choice, kind, pin, script

WANG = "110105195803120029"  # 王秀英: card A00000001 (persona "activated"), grace_hopper on record
WANG_PIN = "258147"
ZHOU = "420106195612010061"  # 周桂兰: grace_hopper on record; 钱多多's parent
QIAN = "610113197410120092"  # 钱多多: card J00000010 (persona "answers_61xx")
QIAN_PIN = "741852"
FACE = ((kind(AskConsent), True), (kind(AskPictures), True), (kind(AskReview), True))


@pytest.fixture
def faults(counter) -> Iterator[Any]:
    bureau = counter.sims.bureau
    yield lambda **f: bureau.admin("PUT", "/faults", f)
    bureau.admin("PUT", "/faults", {"error_rate": 0, "drop_rate": 0, "throttle_rate": 0, "garbage_rate": 0,
                                    "latency_ms": 0})


def stored(counter, reference: str) -> dict:
    item = counter.sims.wait_submission(reference)
    return counter.sims.bureau.admin("GET", f"/submissions/{item['idempotency_key']}")["payload"]


def review_of(run) -> AskReview:
    return next(s for s in run.steps if isinstance(s, AskReview))


def facts(review: AskReview) -> dict[str, str]:
    return {f.label: f.value for f in review.facts}


def test_pension_by_card_is_matched_submitted_and_printed(counter):
    counter.insert("activated")
    run = counter.run(PensionAuth, script(
        (choice("identify"), "card"),
        (pin("card.pin.title"), WANG_PIN),
        (choice("residence"), "other_city"),
        *FACE))
    out = run.outcome
    assert out.result is Result.DONE, out
    assert (out.title, out.body) == ("certify.done.pension_auth_passed", "certify.done.passed_body")
    assert run.receipt_note == "result.receipt_printed"
    payload = stored(counter, out.reference)
    assert payload["kind"] == "pension_certification"
    assert payload["citizen"] == {"id_number": WANG, "name": "王秀英"}
    data = payload["data"]
    assert data["residence"] == "other_city" and data["assurance"]["method"] == "card_pin"
    assert data["assurance"]["card_number"] == "A00000001" and data["assurance"]["card_auth_id"].startswith("CA-")
    assert data["liveness"]["passed"] is True and "on_behalf_of" not in data
    assert [p["role"] for p in payload["pictures"]] == ["liveness_1", "liveness_2", "liveness_3", "liveness_4"]
    # the review showed the match and the person masked, with the pictures
    review = review_of(run)
    shown = facts(review)
    assert shown["certify.fact.face"] == "certify.face_match" and shown["certify.fact.residence"] == \
        "residence.other_city"
    assert WANG not in shown.values() and "王秀英" not in shown.values() and len(review.pictures) == 4
    paper = counter.sims.printer.receipts[-1].text
    assert receipts.text("zh_CN", "receipt.result.passed") in paper and WANG not in paper
    # the step indicator: identify, residence, face, review of five
    flow = run.runner.flow
    assert flow.stage_of(next(s for s in run.steps if getattr(s, "name", "") == "residence")) == (2, 5)
    assert flow.stage_of(review) == (4, 5)


def test_pension_by_typed_id_is_proved_by_the_certification_face_check(counter):
    run = counter.run(PensionAuth, script(
        (choice("identify"), "face"),
        (kind(AskIdNumber), WANG),
        (kind(AskName), "王秀英"),
        (choice("residence"), "local"),
        *FACE))
    out = run.outcome
    assert out.result is Result.DONE and out.title == "certify.done.pension_auth_passed", out
    # one face check only, after the residence: the typed identity was not matched before it
    kinds = run.kinds()
    assert kinds.count("CheckLiveness") == 1
    assert kinds.index("CheckLiveness") > run.names().index("residence")
    payload = stored(counter, out.reference)
    assert payload["citizen"] == {"id_number": WANG, "name": "王秀英"}
    assert payload["data"]["residence"] == "local" and payload["data"]["assurance"]["method"] == "face_match"
    assert payload["data"]["assurance"]["verification_id"].startswith("FV-") and len(payload["pictures"]) == 4
    # the match proved the typed identity: another service of the session may keep it
    identity = run.runner.flow.identity
    assert identity.id_number == WANG and identity.assurance.verification_id == \
        payload["data"]["assurance"]["verification_id"]


def test_family_member_is_certified_by_her_own_face_with_the_operator_named(counter):
    counter.insert("answers_61xx")
    run = counter.run(FamilyAuth, script(
        (choice("identify"), "card"),
        (pin("card.pin.title"), QIAN_PIN),
        (choice("family_members"), 0),
        (choice("residence"), "local"),
        (lambda a: isinstance(a, AskConsent) and a.body == "consent.body_family", True),
        (kind(AskPictures), True),
        (kind(AskReview), True)))
    out = run.outcome
    assert out.result is Result.DONE, out
    assert (out.title, out.body) == ("certify.done.family_auth_passed", "certify.done.passed_body")
    members = next(s for s in run.steps if getattr(s, "name", "") == "family_members")
    # the contract says parent; her ID number's 17th digit (6, even) says mother: 母亲, not 父母
    assert [(o.label, dict(o.fields)) for o in members.options] == [("family.member.mother", {"name": "周*兰"})]
    shown = facts(review_of(run))
    assert shown["certify.fact.relation"] == "relation.mother" and shown["certify.fact.operator"] == "钱*多"
    payload = stored(counter, out.reference)
    assert payload["kind"] == "pension_certification" and payload["citizen"]["id_number"] == ZHOU
    data = payload["data"]
    assert data["on_behalf_of"] == {"relation": "parent", "operator": {"id_number": QIAN, "name": "钱多多"}}
    assert data["assurance"]["method"] == "face_match"  # the relative's face, not the operator's card
    assert run.runner.flow.identity.id_number == QIAN  # the session's citizen stays the operator
    assert run.receipt_note == "result.receipt_printed"


def test_declined_consent_takes_no_picture_and_submits_nothing(counter):
    before = len(counter.sims.submissions())
    run = counter.run(AnnualReview, script(
        (choice("identify"), "face"),
        (kind(AskIdNumber), ZHOU),
        (kind(AskName), "周桂兰"),
        (choice("residence"), "abroad"),
        (kind(AskConsent), False)))
    out = run.outcome
    assert out.result is Result.INFO and out.title == "consent.declined.title", out
    assert not any(isinstance(s, CheckLiveness) for s in run.steps)
    assert counter.desk.camera.camera.frames_made == 0
    assert len(counter.sims.submissions()) == before


def test_another_face_is_not_matched_and_nothing_is_submitted(counter):
    from kiosk.hw.camera_synthetic import open_camera

    devices = counter.desk.services.devices
    genuine, devices.camera = devices.camera, open_camera("synthetic:astronaut,realtime=0")
    before = len(counter.sims.submissions())
    try:
        run = counter.run(PensionAuth, script(
            (choice("identify"), "face"),
            (kind(AskIdNumber), WANG),
            (kind(AskName), "王秀英"),
            (choice("residence"), "local"),
            (kind(AskConsent), True),
            (kind(AskPictures), True)))
    finally:
        devices.camera.close()
        devices.camera = genuine
    out = run.outcome
    assert out.result is Result.FAILED and out.title == "face.no_match.title", out
    assert run.runner.flow.identity is None  # nobody was identified
    assert not out.retry and not any(isinstance(s, AskReview) for s in run.steps)
    assert len(counter.sims.submissions()) == before


def test_offline_certification_is_queued_and_the_bureau_compares_later(counter, faults):
    counter.insert("activated")

    def bureau_goes_away(work: Any) -> None:
        if work.name == "verify":
            faults(drop_rate=1.0)

    run = counter.run(PensionAuth, script(
        (choice("identify"), "card"),
        (pin("card.pin.title"), WANG_PIN),
        (choice("residence"), "local"),
        *FACE), before_work=bureau_goes_away)
    out = run.outcome
    assert out.result is Result.PENDING, out
    assert (out.title, out.body) == ("certify.done.pension_auth_queued", "certify.done.queued_body")
    assert facts(review_of(run))["certify.fact.face"] == "certify.face_pending"
    paper = "".join(counter.sims.printer.receipts[-1].text.split())  # the printer wraps long lines
    assert receipts.text("zh_CN", "receipt.result.queued") in paper
    reference = out.reference
    outbox = counter.desk.services.outbox.outbox
    assert outbox.holds(reference)  # sealed in the outbox, unacknowledged (a drop may still have stored it)
    faults(drop_rate=0)
    payload = stored(counter, reference)  # the daemon delivers it once the bureau is back
    assert payload["data"]["assurance"]["method"] == "card_pin" and len(payload["pictures"]) == 4
    assert payload["data"]["residence"] == "local"
    deadline = time.monotonic() + 20
    while outbox.holds(reference):  # acknowledged at last: the outbox lets it go
        assert time.monotonic() < deadline, "the bureau never acknowledged the queued submission"
        time.sleep(0.2)


def test_the_home_tiles_find_the_certification_flows():
    from kiosk.flows import flow_for

    assert flow_for("pension_auth") is PensionAuth and flow_for("family_auth") is FamilyAuth
    assert flow_for("annual_review") is AnnualReview
    for cls in (PensionAuth, FamilyAuth, AnnualReview):
        assert cls.title == f"service.{cls.service_id}.title" and cls.submits


def test_annual_review_matched_but_not_yet_acknowledged_is_pending(counter, faults):
    """The face matched, then the bureau went away before it acknowledged the submission: pending,
    never done, with the passed title and the queued body; delivered once the bureau is back."""

    def bureau_goes_away(work: Any) -> None:
        if work.name == "submit":
            faults(drop_rate=1.0)

    run = counter.run(AnnualReview, script(
        (choice("identify"), "face"),
        (kind(AskIdNumber), ZHOU),
        (kind(AskName), "周桂兰"),
        (choice("residence"), "abroad"),
        *FACE), before_work=bureau_goes_away)
    out = run.outcome
    assert out.result is Result.PENDING, out
    assert (out.title, out.body) == ("certify.done.annual_review_passed", "certify.done.passed_queued_body")
    assert facts(review_of(run))["certify.fact.face"] == "certify.face_match"
    assert receipts.text("zh_CN", "receipt.result.review_passed") in counter.sims.printer.receipts[-1].text
    faults(drop_rate=0)
    payload = stored(counter, out.reference)
    assert payload["kind"] == "annual_review" and payload["citizen"]["id_number"] == ZHOU
    assert payload["data"]["residence"] == "abroad" and payload["data"]["assurance"]["method"] == "face_match"
