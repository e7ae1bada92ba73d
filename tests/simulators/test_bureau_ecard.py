"""Bureau simulator: e-card QR sign-in (电子社保卡扫码登录), e-card status and application, the family
account and the participation certificate (issue 16 item 1). Every request is checked against its
schema in docs/bureau-api.yaml before it is sent, every answer after it comes back (`checked`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from simulators.bureau import ecard_token
from tests import openapi_util
from tests.bureau_harness import (
    LI,
    NOBODY,
    PIN,
    QIAN,
    WANG,
    WU,
    ZHOU,
    Bureau,
    card_pin,
    checked,
    sealed_item,
    submit,
)

CHEN = "310104198807230027"  # 陈𠈌: e-card suspended by the bureau


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bureau]:
    root = tmp_path_factory.mktemp("bureau")
    sim = Bureau(state=root / "state", ready_file=root / "ready.json")
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture(autouse=True)
def fresh(bureau: Bureau) -> Iterator[None]:
    """Each test starts from the data files: no token used, no family change, clock on time."""
    bureau.admin("POST", "/ecard/reset", {})
    yield


def post(bureau: Bureau, path: str, schema: str | None, body: dict[str, Any]) -> tuple[int, Any]:
    """POST a body that fits `schema` (checked here first; None: deliberately off-contract)."""
    if schema is not None:
        openapi_util.validate(schema, body)
    status, _, answer = checked(bureau, "POST", path, body)
    return status, answer


def token_for(bureau: Bureau, id_number: str) -> str:
    return str(bureau.admin("POST", "/ecard/tokens", {"id_number": id_number})["token"])


def sign_in(bureau: Bureau, token: str) -> tuple[int, Any]:
    return post(bureau, "/v1/ecard/sign-in", "ECardSignInRequest", {"token": token})


def ecard_qr(bureau: Bureau, id_number: str) -> dict[str, str]:
    status, answer = sign_in(bureau, token_for(bureau, id_number))
    assert status == 200, answer
    return {"method": "ecard_qr", "verification_id": answer["verification_id"]}


def refused(answer: Any, code: str) -> bool:
    return answer["code"] == code and answer["retryable"] is False


# ---- e-card sign-in ----------------------------------------------------------------------

def test_a_token_signs_its_citizen_in_once_and_opens_only_their_data(bureau: Bureau) -> None:
    token = token_for(bureau, WANG)
    assert token.startswith("ESSC1.") and len(token) <= 192
    status, answer = sign_in(bureau, token)
    assert status == 200 and answer["citizen"] == {"id_number": WANG, "name": "王秀英"}
    assurance = {"method": "ecard_qr", "verification_id": answer["verification_id"]}
    status, base = post(bureau, "/v1/queries/payment-base", "CitizenQuery",
                        {"id_number": WANG, "assurance": assurance})
    assert status == 200 and base["periods"]
    status, other = post(bureau, "/v1/queries/payment-base", "CitizenQuery",
                         {"id_number": LI, "assurance": assurance})
    assert status == 403 and refused(other, "assurance_invalid")
    status, again = sign_in(bureau, token)
    assert status == 403 and refused(again, "token_used")


def test_a_sign_in_is_an_assurance_for_submissions_too(bureau: Bureau) -> None:
    data = {"card_number": PIN[WANG], "loss_type": "temporary",
            "assurance": ecard_qr(bureau, WANG)}
    [accepted] = submit(bureau, sealed_item(bureau, data=data))
    assert accepted["outcome"] == "accepted"
    data["assurance"] = {"method": "ecard_qr", "verification_id": "EV-0123456789ABCDEF"}
    [rejected] = submit(bureau, sealed_item(bureau, data=data))
    assert rejected["outcome"] == "rejected" and rejected["reason"]["code"] == "assurance_invalid"


def test_an_expired_token_is_refused(bureau: Bureau) -> None:
    token = token_for(bureau, WANG)
    bureau.admin("PUT", "/ecard/clock", {"offset_s": ecard_token.LIFETIME_S + 1})
    status, answer = sign_in(bureau, token)
    assert status == 403 and refused(answer, "token_expired")
    bureau.admin("PUT", "/ecard/clock", {"offset_s": 0})
    assert sign_in(bureau, token)[0] == 200  # refused as expired, not consumed


def _tamper_payload(token: str, **claims: Any) -> str:
    prefix, payload, mac = token.split(".")
    doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    doc.update(claims)
    return ".".join((prefix, ecard_token.b64url(json.dumps(doc).encode()), mac))


@pytest.mark.parametrize("make", [
    lambda t: "not a token",
    lambda t: "ESSC2" + t[5:],
    lambda t: t + ".x",
    lambda t: t.replace(".", ".!", 1),
    lambda t: t + "A" * 200,
    lambda t: _tamper_payload(t, e=9999999999),
    lambda t: ".".join((*t.split(".")[:2], "AAAA")),
], ids=["text", "version", "parts", "base64", "length", "lifetime", "mac-length"])
def test_a_malformed_token_is_refused(bureau: Bureau, make: Any) -> None:
    status, answer = sign_in(bureau, make(token_for(bureau, WANG)))
    assert status == 400 and refused(answer, "token_malformed")


def test_a_forged_token_is_refused(bureau: Bureau) -> None:
    genuine = token_for(bureau, WANG)
    prefix, payload, mac = genuine.split(".")
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    other_key = ecard_token.mint(b"not the platform key", json.loads(base64.urlsafe_b64decode(
        payload + "=" * (-len(payload) % 4)))["a"], int(json.loads(base64.urlsafe_b64decode(
            payload + "=" * (-len(payload) % 4)))["i"]))
    li_account = ecard_token.account_of(b"guess", LI)
    for forged in (f"{prefix}.{payload}.{flipped}", other_key, _tamper_payload(genuine, a=li_account)):
        status, answer = sign_in(bureau, forged)
        assert status == 403 and refused(answer, "token_forged"), forged
    assert sign_in(bureau, genuine)[0] == 200  # the forgeries did not consume the genuine token


def test_tokens_of_unknown_or_suspended_e_cards_are_revoked(bureau: Bureau) -> None:
    for id_number in (NOBODY, CHEN, LI):  # no such citizen; suspended; never opened an e-card
        status, answer = sign_in(bureau, token_for(bureau, id_number))
        assert status == 403 and refused(answer, "token_revoked"), id_number
    token = token_for(bureau, QIAN)
    bureau.admin("PUT", f"/ecard/status/{QIAN}", {"status": "suspended"})
    assert sign_in(bureau, token)[1]["code"] == "token_revoked"
    assert bureau.admin("GET", "/ecard/state")["ecard_states"][QIAN]["status"] == "suspended"


def test_the_token_fits_a_small_qr_code(bureau: Bureau) -> None:
    qrcode = pytest.importorskip("qrcode")
    zxingcpp = pytest.importorskip("zxingcpp")
    token = token_for(bureau, WANG)
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4)
    code.add_data(token)
    code.make(fit=True)
    assert code.version <= 10
    [read] = zxingcpp.read_barcodes(code.make_image().get_image().convert("L"))
    assert sign_in(bureau, read.text)[1]["citizen"]["id_number"] == WANG


# ---- e-card status and application -------------------------------------------------------

def ecard_status(bureau: Bureau, id_number: str, assurance: dict[str, Any]) -> str:
    status, answer = post(bureau, "/v1/queries/ecard-status", "CitizenQuery",
                          {"id_number": id_number, "assurance": assurance})
    assert status == 200, answer
    return str(answer["status"])


def test_e_card_status_and_application_for_oneself(bureau: Bureau) -> None:
    assert ecard_status(bureau, WANG, ecard_qr(bureau, WANG)) == "active"
    li = card_pin(bureau, PIN[LI])
    assert ecard_status(bureau, LI, li) == "none"
    body = {"id_number": LI, "assurance": li, "phone": "138 0013 8000"}
    status, answer = post(bureau, "/v1/ecard/applications", "ECardApplicationRequest", body)
    assert status == 200 and answer["applied_for"] == "self" and answer["status"] == "active"
    assert answer["open"]["url"].startswith("https://") and len(answer["open"]["activation_code"]) == 8
    assert ecard_status(bureau, LI, li) == "active"
    status, again = post(bureau, "/v1/ecard/applications", "ECardApplicationRequest", body)
    assert status == 409 and refused(again, "ecard_exists")
    assert sign_in(bureau, token_for(bureau, LI))[0] == 200  # the new e-card signs in


def test_e_card_application_refusals(bureau: Bureau) -> None:
    chen = card_pin(bureau, "B00000003")
    status, answer = post(bureau, "/v1/ecard/applications", "ECardApplicationRequest",
                          {"id_number": CHEN, "assurance": chen, "phone": "13800138000"})
    assert status == 409 and refused(answer, "ecard_suspended")
    status, answer = post(bureau, "/v1/ecard/applications", "ECardApplicationRequest",
                          {"id_number": WU, "assurance": card_pin(bureau, PIN[WU]), "phone": "13800138000"})
    assert status == 409 and refused(answer, "card_required")  # a bank card only
    status, answer = post(bureau, "/v1/ecard/applications", "ECardApplicationRequest",
                          {"id_number": LI, "assurance": chen, "phone": "13800138000"})
    assert status == 403 and refused(answer, "assurance_invalid")


def test_e_card_application_for_a_family_member_who_is_present(bureau: Bureau) -> None:
    operator = ecard_qr(bureau, QIAN)  # the son, signed in with his e-card
    assert ecard_status(bureau, ZHOU, card_pin(bureau, PIN[ZHOU])) == "none"
    body = {"id_number": ZHOU, "assurance": operator, "phone": "13900139000",
            "on_behalf_of": {"operator_id_number": QIAN, "operator_assurance": operator,
                             "relation": "parent"}}
    status, answer = post(bureau, "/v1/ecard/applications", "ECardApplicationRequest", body)
    assert status == 403 and refused(answer, "assurance_invalid")  # the mother's own proof is missing
    body["assurance"] = card_pin(bureau, PIN[ZHOU])  # she is there: her card and PIN
    body["on_behalf_of"]["operator_assurance"] = card_pin(bureau, PIN[LI])  # not the son's
    assert post(bureau, "/v1/ecard/applications", "ECardApplicationRequest", body)[0] == 403
    body["on_behalf_of"]["operator_assurance"] = operator
    status, answer = post(bureau, "/v1/ecard/applications", "ECardApplicationRequest", body)
    assert status == 200 and answer["applied_for"] == "family_member"
    assert ecard_status(bureau, ZHOU, card_pin(bureau, PIN[ZHOU])) == "active"


# ---- family account ----------------------------------------------------------------------

def family(bureau: Bureau, id_number: str, assurance: dict[str, Any]) -> list[dict[str, Any]]:
    status, answer = post(bureau, "/v1/queries/family-members", "CitizenQuery",
                          {"id_number": id_number, "assurance": assurance})
    assert status == 200, answer
    return list(answer["members"])


def match_verdict(bureau: Bureau, id_number: str, name: str) -> str:
    """A face match of the member at the kiosk (the simulators' test face)."""
    from tests.simulators.test_bureau_sim_queries import _face_pictures

    status, _, verdict = checked(bureau, "POST", "/v1/identity/verify", {
        "id_number": id_number, "name": name, "pictures": _face_pictures("matplotlib:grace_hopper"),
        "liveness": {"passed": True, "challenge": "mouth_open_x3"}})
    assert status == 200 and verdict["verdict"] == "match", verdict
    return str(verdict["verification_id"])


def test_family_list_add_with_consent_and_remove(bureau: Bureau) -> None:
    owner = ecard_qr(bureau, WANG)
    [spouse] = family(bureau, WANG, owner)
    assert (spouse["id_number"], spouse["relation"], spouse["name_masked"]) == (LI, "spouse", "李*国")
    consent = {"method": "face_match", "verification_id": match_verdict(bureau, ZHOU, "周桂兰")}
    add = {"id_number": WANG, "assurance": owner,
           "member": {"id_number": ZHOU, "relation": "sibling", "consent": consent}}
    status, answer = post(bureau, "/v1/family/members/add", "FamilyMemberAddRequest", add)
    assert status == 200
    assert [(m["id_number"], m["relation"]) for m in answer["members"]] == [(LI, "spouse"), (ZHOU, "sibling")]
    zhou = answer["members"][1]
    assert zhou["name_masked"] == "周*兰" and zhou["certification_due"] is True
    assert family(bureau, WANG, owner) == answer["members"]
    status, again = post(bureau, "/v1/family/members/add", "FamilyMemberAddRequest", add)
    assert status == 409 and refused(again, "already_member")

    remove = {"id_number": WANG, "assurance": owner, "member_id_number": LI}
    status, answer = post(bureau, "/v1/family/members/remove", "FamilyMemberRemoveRequest", remove)
    assert status == 200 and [m["id_number"] for m in answer["members"]] == [ZHOU]
    status, again = post(bureau, "/v1/family/members/remove", "FamilyMemberRemoveRequest", remove)
    assert status == 404 and refused(again, "not_a_member")
    assert [m["id_number"] for m in family(bureau, WANG, owner)] == [ZHOU]


def test_family_add_needs_the_members_own_proof(bureau: Bureau) -> None:
    owner = ecard_qr(bureau, QIAN)
    add: dict[str, Any] = {"id_number": QIAN, "assurance": owner,
                           "member": {"id_number": WANG, "relation": "other"}}
    status, answer = post(bureau, "/v1/family/members/add", None, add)  # no consent: off-contract
    assert status == 400 and refused(answer, "bad_request")
    with pytest.raises(Exception, match="consent"):
        openapi_util.validate("FamilyMemberAddRequest", add)
    for consent_id in ("FV-0123456789ABCDEF",  # no such verdict
                       match_verdict(bureau, ZHOU, "周桂兰")):  # a verdict of another person
        add["member"]["consent"] = {"method": "face_match", "verification_id": consent_id}
        status, answer = post(bureau, "/v1/family/members/add", "FamilyMemberAddRequest", add)
        assert status == 403 and refused(answer, "consent_invalid")
    add["member"]["id_number"] = QIAN
    status, answer = post(bureau, "/v1/family/members/add", "FamilyMemberAddRequest", add)
    assert status == 409 and refused(answer, "not_allowed")
    add["member"]["id_number"] = NOBODY
    assert post(bureau, "/v1/family/members/add", "FamilyMemberAddRequest", add)[0] == 404
    assert [m["id_number"] for m in family(bureau, QIAN, owner)] == [ZHOU]


# ---- participation certificate -----------------------------------------------------------

def certificate(bureau: Bureau, **extra: Any) -> tuple[int, Any]:
    body = {"id_number": QIAN, "assurance": ecard_qr(bureau, QIAN),
            "insurances": ["pension", "medical"], "from": "2024-01", "to": "2025-06", **extra}
    return post(bureau, "/v1/certificates/participation", "ParticipationCertificateRequest", body)


def verify_code(bureau: Bureau, code: str) -> tuple[int, Any]:
    return post(bureau, "/v1/certificates/verify", "CertificateVerifyRequest", {"verification_code": code})


def test_certificate_is_issued_and_verified_by_its_printed_code(bureau: Bureau) -> None:
    status, doc = certificate(bureau)
    assert status == 200 and doc["citizen"] == {"id_number": QIAN, "name": "钱多多"}
    assert doc["issued_on"] == "2025-06-30" and doc["issuing_bureau"]["code"] == "610113"
    for row, kind in zip(doc["rows"], ("pension", "medical")):  # 18 months, 3 owed (2024-11..2025-01)
        assert (row["insurance"], row["months_paid"], row["months_owed"]) == (kind, 15, 3)
        assert row["units"] == [{"name": "西安小寨百货有限公司", "first_month": "2024-01",
                                 "last_month": "2025-06"}]
    url = doc["verification"]["url"]
    assert url.endswith(doc["verification"]["code"])

    qrcode = pytest.importorskip("qrcode")
    zxingcpp = pytest.importorskip("zxingcpp")
    [printed] = zxingcpp.read_barcodes(qrcode.make(url).get_image().convert("L"))
    status, check = verify_code(bureau, printed.text.rsplit("/", 1)[1])
    assert status == 200 and check["certificate_id"] == doc["certificate_id"]
    assert check["citizen"] == {"id_number_masked": "6101**********0092", "name_masked": "钱*多"}
    assert check["rows"] == doc["rows"] and check["period"] == {"from": "2024-01", "to": "2025-06"}


def test_a_wrong_code_and_a_bad_period_are_refused(bureau: Bureau) -> None:
    status, doc = certificate(bureau, insurances=["pension"], **{"from": "2010-01", "to": "2015-12"})
    assert status == 200 and [u["name"] for u in doc["rows"][0]["units"]] == [
        "西安市雁塔建筑工程有限公司", "西安小寨百货有限公司"]
    code = doc["verification"]["code"]
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    status, answer = verify_code(bureau, wrong)
    assert status == 404 and refused(answer, "certificate_not_found")
    status, answer = verify_code(bureau, "not-a-code")
    assert status == 400 and refused(answer, "bad_request")
    for period in ({"from": "2025-03", "to": "2025-01"}, {"from": "2025-01", "to": "2025-07"}):
        status, answer = certificate(bureau, **period)
        assert status == 400 and refused(answer, "bad_period"), period
    assert verify_code(bureau, code)[0] == 200


def test_the_contract_names_every_new_operation() -> None:
    paths = openapi_util.api_document()["paths"]
    for path in ("/v1/ecard/sign-in", "/v1/queries/ecard-status", "/v1/ecard/applications",
                 "/v1/family/members/add", "/v1/family/members/remove",
                 "/v1/certificates/participation", "/v1/certificates/verify"):
        assert "post" in paths[path], path
    assurance = openapi_util.api_document()["components"]["schemas"]["Assurance"]
    assert "ecard_qr" in assurance["properties"]["method"]["enum"]
