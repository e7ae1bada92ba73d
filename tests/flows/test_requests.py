"""Report a card lost and apply for a card, run headless to their outcomes against the bureau
simulator (behind the real sync daemon), the printer and the synthetic camera."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from kiosk.flows.requests import ApplyCard, ReportLost
from kiosk.flows.steps import AskConfirm, AskPhone, AskPhoto, Result, Text, Work, shown
from kiosk.i18n import Translator
from kiosk.services import receipts
from kiosk.services.desk import Desk
from tests.flows.conftest import AskConsent, AskIdNumber, AskName, AskPictures, Counter, choice, confirm, kind, script

WANG = "110105195803120029"  # 王秀英: card A00000001 active at the bureau, grace_hopper on record
CHEN = "310104198807230027"  # 陈𠈌: card active at the bureau, the astronaut on record
ZHOU = "420106195612010061"  # 周桂兰: her card already reported lost, grace_hopper on record


def answers(*steps: tuple[Any, Any]) -> Any:
    """The conftest's script, where an answer may be a function of the ask (a photo, a pick)."""
    inner = script(*steps)

    def answer(ask: Any) -> Any:
        value = inner(ask)
        return value(ask) if callable(value) else value

    return answer


def identify(id_number: str, name: str) -> list[tuple[Any, Any]]:
    return [(kind(AskIdNumber), id_number), (kind(AskName), name), (kind(AskConsent), True),
            (kind(AskPictures), True)]


def stored(counter: Counter, reference: str) -> dict[str, Any]:
    item = counter.sims.wait_submission(reference)
    payload: dict[str, Any] = counter.sims.bureau.admin("GET", f"/submissions/{item['idempotency_key']}")["payload"]
    return payload


def paper(counter: Counter) -> str:
    """The last receipt's text, without the printer's line breaks."""
    return "".join(counter.sims.printer.receipts[-1].text.split())


def step_in(counter: Counter, face: str) -> None:
    """Another person in front of the synthetic camera, at the same place and size."""
    from simulators.camera.faces import load_face

    camera = counter.desk.camera.camera  # the simulator behind the adapter
    was = camera.actors[0]
    camera.actors[0] = type(was)(load_face(face), was.size, was.centre, was.scale * was.photo.layout.face_height)


def asked(run: Any, name: str) -> Any:
    return next(s for s in run.steps if getattr(s, "name", "") == name)


@pytest.fixture
def faults(counter: Counter) -> Iterator[Any]:
    yield lambda **f: counter.sims.bureau.admin("PUT", "/faults", f)
    counter.sims.bureau.admin("PUT", "/faults", {"error_rate": 0, "drop_rate": 0, "throttle_rate": 0,
                                                 "garbage_rate": 0, "latency_ms": 0})


def test_report_lost_reaches_the_bureau_and_a_second_report_is_not_needed(counter):
    """GIVEN 王秀英's active card and a kiosk clock not trusted WHEN she reports it lost THEN the
    bureau records a temporary loss report, and no lapse date is shown or printed; AND WHEN she
    tries again in the same session THEN she is told it is already reported."""
    run = counter.run(ReportLost, script(*identify(WANG, "王秀英"), (confirm("confirm_loss"), True)))
    out = run.outcome
    assert out.result is Result.DONE and out.title == "lost.done.title", out
    assert out.body == "lost.done.undated" and out.fields == {"days": 30}
    ask = asked(run, "confirm_loss")
    assert ask.body == "lost.confirm.undated" and ask.fields == {"days": 30} and ask.danger
    payload = stored(counter, out.reference)
    assert payload["kind"] == "card_loss_report" and payload["citizen"] == {"id_number": WANG, "name": "王秀英"}
    assert payload["data"]["loss_type"] == "temporary" and payload["data"]["assurance"]["method"] == "face_match"
    assert run.receipt_note == "result.receipt_printed"
    text = paper(counter)
    assert "自社保中心登记之日起30天" in text and out.reference in text
    assert (dt.date.today() + dt.timedelta(days=30)).isoformat() not in text

    again = counter.run(ReportLost, script(), identity=run.runner.flow.identity)
    assert again.outcome.result is Result.INFO and again.outcome.title == "lost.already.title"
    assert not any(isinstance(s, AskIdNumber) for s in again.steps)  # the session's identity was reused


def test_report_lost_with_a_trusted_clock_shows_and_prints_the_lapse_date(counter):
    """GIVEN a kiosk whose clock the bureau confirmed THEN the confirmation, the outcome and the
    receipt give the date the report lapses: 30 days from today."""
    step_in(counter, "astronaut")  # 陈𠈌 stands in front of the camera
    trusted = dataclasses.replace(counter, desk=Desk(counter.desk.services, clock_trusted=lambda: True))
    run = trusted.run(ReportLost, script(*identify(CHEN, "陈𠈌"), (confirm("confirm_loss"), True)))
    until = dt.date.today() + dt.timedelta(days=30)  # a date: the screen words it, the receipt prints it ISO
    assert asked(run, "confirm_loss").body == "lost.confirm.body"
    assert asked(run, "confirm_loss").fields == {"days": 30, "until": until}
    out = run.outcome
    assert out.result is Result.DONE and out.body == "lost.done.body" and out.fields == {"until": until}, out
    assert stored(counter, out.reference)["citizen"]["id_number"] == CHEN
    assert until.isoformat() in paper(counter)


def test_report_lost_offline_is_pending_and_says_the_card_is_not_blocked(counter, faults):
    """GIVEN the bureau goes away after the face check WHEN 周桂兰 reports her card lost THEN the
    report is stored on the kiosk, the outcome is pending and says the card is not blocked yet
    and how to check (12333); the receipt says so too and gives no date."""

    def bureau_goes_away(work: Work) -> None:
        if work.name == "card_status":
            faults(drop_rate=1.0)

    run = counter.run(ReportLost, script(*identify(ZHOU, "周桂兰"), (confirm("confirm_loss"), True)),
                      before_work=bureau_goes_away)
    assert asked(run, "confirm_loss").body == "lost.confirm.offline"
    out = run.outcome
    assert out.result is Result.PENDING and out.body == "lost.pending.body", out
    assert "12333" in receipts.text("en", "receipt.note.loss_queued")
    assert "NOT blocked" in Translator("en")(out.body) and "12333" in Translator("en")(out.body)
    text = paper(counter)
    assert "".join(receipts.text("zh_CN", "receipt.note.loss_queued").split()) in text
    assert "自社保中心登记之日起30天" in text
    faults(drop_rate=0)
    assert stored(counter, out.reference)["kind"] == "card_loss_report"  # sent once the bureau is back


def accepted_photo(ask: AskPhoto) -> bytes:
    """What the photo screen does: a still from a camera, judged by the step's own check."""
    from tests.test_id_photo import frame

    result = ask.check(frame(face="astronaut"))  # a studio portrait, centred, plain backdrop
    assert result.ok, result.problems
    return bytes(result.crop)


def test_apply_for_a_card_with_outlet_photo_and_phone(counter):
    """GIVEN the outlets the daemon cached WHEN 周桂兰 applies for a replacement card THEN each
    outlet is offered with its name and address, the confirmation masks her name and phone, and
    the bureau records the outlet, the reason, the phone and the photo she took."""
    assert counter.desk.services.sync.call("refresh_reference", 10) is not None
    photos: list[bytes] = []

    def take(ask: AskPhoto) -> bytes:
        assert ask.preview is not None  # the live picture the screen aims by
        photos.append(accepted_photo(ask))
        return photos[-1]

    run = counter.run(ApplyCard, answers(
        *identify(ZHOU, "周桂兰"),
        (choice("pick_outlet"), lambda ask: ask.options[0].value),
        (choice("pick_reason"), "replacement"),
        (kind(AskPhoto), take),
        (kind(AskPhone), "1381234567"),  # ten digits: asked again
        (kind(AskPhone), "13812345678"),
        (confirm("confirm_apply"), True)))
    out = run.outcome
    assert out.result is Result.DONE and out.title == "apply.done.title", out
    outlets = asked(run, "pick_outlet").options
    assert outlets and all(o.fields["name"] and o.fields["address"] for o in outlets)
    first = outlets[0]
    fields = asked(run, "confirm_apply").fields
    assert fields["name_masked"] == "周*兰" and fields["phone"] == "138****5678"
    assert fields["address"] == first.fields["address"] and fields["outlet"] == first.fields["name"]
    assert fields["reason"] == Text("apply.reason.replacement")  # shown translated
    assert shown(fields["reason"], Translator("en")) == "Replacement (lost or damaged)"
    assert out.fields == {"outlet": first.fields["name"]}
    payload = stored(counter, out.reference)
    assert payload["kind"] == "card_application"
    assert payload["data"]["outlet_id"] == first.value and payload["data"]["reason"] == "replacement"
    assert payload["data"]["phone"] == "13812345678" and payload["data"]["assurance"]["method"] == "face_match"
    assert [p["role"] for p in payload["pictures"]] == ["card_photo"]
    # the bureau keeps the digest of the picture it decoded: the very photo she took
    assert payload["pictures"][0]["sha256"] == hashlib.sha256(photos[0]).hexdigest()
    assert first.fields["name"] in paper(counter)
    assert counter.remembered["card_photo"] == photos[0]  # the session lets go of it when it ends


def test_apply_without_outlets_fails_and_says_why(counter, tmp_path):
    """GIVEN a kiosk that has not received the outlet list THEN after identification the flow ends
    with apply.no_outlets, nothing submitted."""
    desk = Desk(counter.desk.services)
    desk.settings = dataclasses.replace(desk.settings, data_dir=str(tmp_path))  # an empty cache
    before = len(counter.sims.submissions())
    run = dataclasses.replace(counter, desk=desk).run(ApplyCard, script(*identify(WANG, "王秀英")))
    assert run.outcome.result is Result.FAILED and run.outcome.title == "apply.no_outlets.title"
    assert not run.outcome.retry
    assert len(counter.sims.submissions()) == before
    assert not any(isinstance(s, (AskConfirm, AskPhoto)) for s in run.steps)


@pytest.mark.parametrize(("status", "title", "result"), [
    ("reported_lost", "lost.already.title", Result.INFO),
    ("none", "lost.no_card.title", Result.INFO),
    ("cancelled", "lost.no_card.title", Result.INFO),
])
def test_a_card_that_cannot_be_reported_lost_ends_with_why(status, title, result):
    """The card statuses a loss report is refused for (the bureau's answer, no simulator needed)."""
    from kiosk.flows import Context

    out = ReportLost(Context(desk=None)).step_status((status, dt.date(2026, 3, 1)))  # type: ignore[arg-type]
    assert not isinstance(out, Work) and out.result is result and out.title == title


@pytest.mark.parametrize("status", ["active", "not_activated", "blocked", "expired", None])
def test_a_card_in_use_or_of_unknown_status_may_be_reported_lost(status):
    from kiosk.flows import Context

    ask = ReportLost(Context(desk=None)).step_status((status, None))  # type: ignore[arg-type]
    assert isinstance(ask, AskConfirm) and ask.name == "confirm_loss"
    assert ask.body == ("lost.confirm.offline" if status is None else "lost.confirm.undated")
    assert "until" not in ask.fields  # no trusted date: no date


def test_no_camera_means_no_face_request(counter):
    """GIVEN the camera is out of use and no earlier face identity THEN both requests end at once
    with request.no_face, nothing asked."""
    for flow in (ReportLost, ApplyCard):
        run = counter.run(flow, script(), camera_ok=False)
        assert run.outcome.result is Result.FAILED and run.outcome.name == "no_face" and run.steps == []
