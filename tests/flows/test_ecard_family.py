"""Applying for the electronic social security card and the family account, headless against the
simulators (the card emulator, the synthetic camera through the real liveness pipeline, the
bureau behind the real sync daemon). Every request the kiosk sends to these endpoints, and every
answer it accepts, is checked against docs/bureau-api.yaml at the UI's door to the daemon (the
body the daemon posts unchanged); the simulator checks them too, but it is not the judge here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kiosk.flows import Context
from kiosk.flows.ecard_apply import ApplyEcard
from kiosk.flows.family import FamilyAccount
from kiosk.flows.steps import (
    AskChoice,
    AskConsent,
    AskIdNumber,
    AskName,
    AskPhone,
    AskPictures,
    CheckLiveness,
    Result,
    Text,
    Work,
)
from kiosk.i18n import Translator
from kiosk.services.ecard_family import Refused
from kiosk.sync.client import QUERY_PATHS
from tests.flows.conftest import choice, confirm, kind, pin, script
from tests.flows.test_idcard_flows import idcard  # noqa: F401  (the ID card reader simulator)
from tests.openapi_util import api_document, response_schema, validate

WANG = ("110105195803120029", "王秀英")  # card A00000001 ("activated"), e-card active, grace_hopper on record
WANG_PIN = "258147"
QIAN = ("610113197410120092", "钱多多")  # e-card active; his mother 周桂兰 is in his family account
ZHOU = ("420106195612010061", "周桂兰")  # no e-card; grace_hopper on record (the synthetic camera's face)
CHEN = ("310104198807230027", "陈𠈌")  # another face on record (skimage astronaut)
PHONE = "13800138000"
ONLINE = {"reader_ok": True, "camera_ok": True, "qr_ok": True, "bureau_ok": True}
FACE = ((kind(AskConsent), True), (kind(AskPictures), True))
CHECKED = ("ecard_status", "ecard_application", "family_members", "family_member_add", "family_member_remove")


def request_schema(path: str) -> str:
    body = api_document()["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return str(body["$ref"]).rsplit("/", 1)[1]


@pytest.fixture
def hall(counter) -> Iterator[Any]:
    """The counter with the e-card and family state reset, and every request and answer of
    these endpoints checked against the contract as it passes (`hall.seen`: kind, ok)."""
    bureau, sync = counter.sims.bureau, counter.desk.services.sync
    bureau.admin("POST", "/ecard/reset", {})
    real, seen = sync.query, []

    def checked(kind_: str, body: dict, timeout: float | None = None) -> dict:
        path = QUERY_PATHS[kind_]
        if kind_ in CHECKED:
            validate(request_schema(path), body)
        try:
            answer = real(kind_, body, timeout)
        except Exception:
            seen.append((kind_, False))
            raise
        if kind_ in CHECKED:
            validate(str(response_schema(path, "post", 200)), answer)
            seen.append((kind_, True))
        return answer

    sync.query = checked
    counter.seen = seen
    yield counter
    sync.query = real
    counter.desk.camera.show_qr(None)
    bureau.admin("POST", "/ecard/reset", {})


def issue(hall, id_number: str) -> str:
    """The code the citizen's e-card app shows, issued a moment ago."""
    return str(hall.sims.bureau.admin("POST", "/ecard/tokens", {"id_number": id_number})["token"])


def sign_in_by_qr(hall, id_number: str) -> None:
    """The citizen's phone shows a fresh e-card code to the camera."""
    hall.desk.camera.show_qr(issue(hall, id_number))


def put_phone_away(hall):
    def before(work: Work) -> None:
        if isinstance(work, CheckLiveness):  # the member's face check: the phone is put away
            hall.desk.camera.show_qr(None)
    return before


def ecard_state(hall, id_number: str) -> str:
    return hall.sims.bureau.admin("GET", "/ecard/state")["ecard_states"].get(id_number, {}).get("status", "")


def both_languages(key: str, **fields: Any) -> None:
    for lang in ("zh_CN", "en"):
        t = Translator(lang)
        assert t.has(key), (lang, key)
        text = t(key, **fields)
        assert "{" not in text, text


def test_apply_for_oneself_by_card_shows_how_to_open_it_on_the_phone(hall):
    hall.sims.bureau.admin("PUT", f"/ecard/status/{WANG[0]}", {"status": "none"})
    hall.insert("activated")
    run = hall.run(ApplyEcard, script(
        (choice("ecard_whom"), "self"),
        (lambda a: isinstance(a, AskChoice) and a.name == "identify"
         and [o.value for o in a.options] == ["card", "face"], "card"),  # no e-card sign-in for oneself
        (pin("card.pin.title"), WANG_PIN),
        (lambda a: isinstance(a, AskPhone) and a.prompt == "ecard_apply.phone_prompt", PHONE),
        (lambda a: getattr(a, "name", "") == "confirm_ecard" and a.body == "ecard_apply.confirm.body_self"
         and a.fields["phone"] == "138****8000", True)), **ONLINE)
    out = run.outcome
    assert out.result is Result.DONE and out.title == "ecard_apply.done.title_self", out
    assert out.reference.startswith("ECA-") and out.qr.startswith("https://ecard.example.gov.cn/open?")
    assert out.qr_caption == "ecard_apply.done.qr_caption"
    code = dict(out.facts)["ecard_apply.done.code"]
    assert len(code) == 8 and code.isdigit() and out.fields["code"] == code
    both_languages(out.body, **out.fields)
    assert ecard_state(hall, WANG[0]) == "active"
    assert hall.seen == [("ecard_status", True), ("ecard_application", True)]


def test_someone_with_an_e_card_is_told_so_plainly(hall):
    run = hall.run(ApplyEcard, script(
        (choice("ecard_whom"), "self"), (choice("identify"), "face"),
        (kind(AskIdNumber), WANG[0]), (kind(AskName), WANG[1]), *FACE), **ONLINE)
    out = run.outcome
    assert out.result is Result.INFO and out.name == "ecard_already", out
    assert (out.title, out.body, out.fields["date"]) == ("ecard_apply.already.title", "ecard_apply.already.body_self",
                                                         "2021-03-01")
    both_languages(out.body, **out.fields)
    assert "AskPhone" not in run.kinds() and hall.seen == [("ecard_status", True)]  # nothing applied for


def test_apply_for_a_parent_who_is_present_for_her_own_face_check(hall):
    sign_in_by_qr(hall, QIAN[0])  # the son signs in with his own e-card
    run = hall.run(ApplyEcard, script(
        (choice("ecard_whom"), "family"), (choice("identify"), "ecard"),
        (lambda a: getattr(a, "name", "") == "ecard_member"
         and [(o.label, dict(o.fields)) for o in a.options] == [("family.member.mother", {"name": "周*兰"})], 0),
        (lambda a: isinstance(a, AskConsent) and a.body == "ecard_apply.consent_member", True),
        (kind(AskPictures), True), (kind(AskPhone), PHONE),
        (lambda a: getattr(a, "name", "") == "confirm_ecard" and a.fields["relation"] == Text("relation.mother")
         and a.fields["who"] == "周*兰", True)), before_work=put_phone_away(hall), **ONLINE)
    out = run.outcome
    assert out.result is Result.DONE and out.title == "ecard_apply.done.title_family", out
    assert out.fields["who"] == "周*兰" and out.qr.startswith("https://")
    assert ecard_state(hall, ZHOU[0]) == "active"
    assert hall.seen == [("family_members", True), ("ecard_status", True), ("ecard_application", True)]
    assert run.runner.flow.identity.id_number == QIAN[0]  # "another service" keeps the son, not his mother


def test_add_a_member_with_her_consent_then_remove_her(hall):
    sign_in_by_qr(hall, WANG[0])
    run = hall.run(FamilyAccount, script(
        (choice("identify"), "ecard"),
        (lambda a: getattr(a, "name", "") == "family_account" and a.prompt == "family_account.list_prompt"
         and [(o.label, o.value) for o in a.options] == [("family.member.spouse", 0),
                                                         ("family_account.add_member", "add")], "add"),
        (choice("family_relation"), "parent"),
        (kind(AskIdNumber), ZHOU[0]), (kind(AskName), ZHOU[1]),
        (lambda a: isinstance(a, AskConsent) and a.body == "family_account.consent_member", True),
        (kind(AskPictures), True),
        (lambda a: getattr(a, "name", "") == "confirm_add" and a.fields["relation"] == Text("relation.mother"), True)),
        before_work=put_phone_away(hall), **ONLINE)
    out = run.outcome
    assert out.result is Result.DONE and out.name == "family_added", out
    assert [v for _, v in out.facts] == [Text("family.member.spouse", name="李*国"),
                                         Text("family.member.mother", name="周*兰")]
    who = run.runner.flow.identity
    assert who is not None and who.assurance.method == "ecard_qr"

    # later in the same session ("another service"): she is removed again, asked first
    run = hall.run(FamilyAccount, script(
        (lambda a: getattr(a, "name", "") == "family_account" and len(a.options) == 3, 1),
        (lambda a: getattr(a, "name", "") == "confirm_remove" and a.danger and a.fields["who"] == "周*兰", True)),
        identity=who, **ONLINE)
    out = run.outcome
    assert out.result is Result.DONE and out.name == "family_removed", out
    assert [v for _, v in out.facts] == [Text("family.member.spouse", name="李*国")]
    assert hall.seen == [("family_members", True), ("family_member_add", True), ("family_members", True),
                         ("family_member_remove", True)]


def test_a_member_is_added_by_her_own_id_card(hall, idcard):  # noqa: F811
    """GIVEN 王秀英's ID card on the reader WHEN 钱多多 adds her THEN the card says who she is
    (nothing typed) and her face proves it."""
    idcard.insert("wang")
    sign_in_by_qr(hall, QIAN[0])
    run = hall.run(FamilyAccount, script(
        (choice("identify"), "ecard"), (choice("family_account"), "add"), (choice("family_relation"), "other"),
        (lambda a: getattr(a, "name", "") == "family_member_how" and [o.value for o in a.options] == ["idcard", "face"],
         "idcard"), *FACE, (confirm("confirm_add"), True)),
        before_work=put_phone_away(hall), **{**ONLINE, "idcard_ok": True})
    out = run.outcome
    assert out.result is Result.DONE and out.name == "family_added", out
    assert "AskIdNumber" not in run.kinds() and "AskName" not in run.kinds()
    assert Text("family.member.other", name="王*英") in [v for _, v in out.facts]


def test_a_member_whose_face_does_not_match_is_not_added(hall):
    sign_in_by_qr(hall, WANG[0])
    run = hall.run(FamilyAccount, script(
        (choice("identify"), "ecard"), (choice("family_account"), "add"), (choice("family_relation"), "sibling"),
        (kind(AskIdNumber), CHEN[0]), (kind(AskName), CHEN[1]), *FACE), before_work=put_phone_away(hall), **ONLINE)
    out = run.outcome
    assert out.result is Result.FAILED and out.title == "face.no_match.title", out
    assert ("family_member_add", True) not in hall.seen and ("family_member_add", False) not in hall.seen
    state = hall.sims.bureau.admin("GET", "/ecard/state")
    assert state["family_changes"] == []


def test_the_bureau_refusing_a_removal_is_said_plainly(hall):
    sign_in_by_qr(hall, QIAN[0])

    def meanwhile(work: Work) -> None:
        if work.name == "family_remove":  # he removed her at another kiosk a moment ago
            other = hall.desk.ecard_sign_in(issue(hall, QIAN[0]))
            hall.desk.remove_family_member(QIAN[0], other.assurance, ZHOU[0])

    run = hall.run(FamilyAccount, script((choice("identify"), "ecard"), (choice("family_account"), 0),
                                         (confirm("confirm_remove"), True)), before_work=meanwhile, **ONLINE)
    out = run.outcome
    assert out.result is Result.FAILED and out.title == "family_account.refused.not_a_member.title", out
    both_languages(out.body)
    assert hall.seen[-2:] == [("family_member_remove", True), ("family_member_remove", False)]


def test_consent_that_is_not_the_members_own_face_match_is_refused(hall):
    signed = hall.desk.ecard_sign_in(issue(hall, WANG[0]))
    with pytest.raises(Refused) as refused:
        hall.desk.add_family_member(WANG[0], signed.assurance, ZHOU[0], "parent", "FV-0123456789ABCDEF")
    assert refused.value.code == "consent_invalid"
    both_languages(f"{refused.value.reason}.title")
    both_languages(f"{refused.value.reason}.body")


def test_offline_neither_is_offered(hall):
    from kiosk.hw.health import DeviceHealth
    from kiosk.services.catalog import SERVICES, availability

    for flow_cls, prefix in ((ApplyEcard, "ecard_apply"), (FamilyAccount, "family_account")):
        out = flow_cls(Context(hall.desk, **{**ONLINE, "bureau_ok": False})).start()
        assert out.result is Result.FAILED and out.title == f"{prefix}.offline.title", out
        both_languages(out.body)
    health = {"reader": DeviceHealth.ok(), "camera": DeviceHealth.ok(), "bureau": DeviceHealth.offline("x")}
    for spec in (s for s in SERVICES if s.id in ("apply_ecard", "family_account")):
        assert not availability(spec, health).available  # the home's tile is off, and says why
