"""Bureau simulator: card authentication (issue 13, finding 1). A card_pin assurance stands only on
a verified INTERNAL AUTHENTICATE cryptogram: the bureau's own challenge online, the kiosk's
challenge offline (once). Every request and answer is checked against docs/bureau-api.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import openapi_util
from tests.bureau_harness import (
    WANG,
    Bureau,
    card_answer,
    card_auth_id,
    checked,
    offline_proof,
    sealed_item,
    submit,
)

WANG_CARD, LI_CARD = "A00000001", "A00000002"


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bureau]:
    root = tmp_path_factory.mktemp("bureau")
    sim = Bureau(state=root / "state", ready_file=root / "ready.json")
    sim.start()
    yield sim
    sim.stop()


def challenge(bureau: Bureau, card: str = WANG_CARD) -> dict:
    body = {"card_number": card}
    openapi_util.validate("CardAuthChallengeRequest", body)
    status, _, issued = checked(bureau, "POST", "/v1/card-auth/challenge", body)
    assert status == 200
    return issued


def verify(bureau: Bureau, issued: dict, cryptogram: bytes, card: str = WANG_CARD) -> tuple[int, dict]:
    body = {"challenge_id": issued["challenge_id"], "card_number": card, "cryptogram": cryptogram.hex().upper()}
    openapi_util.validate("CardAuthVerifyRequest", body)
    status, _, answer = checked(bureau, "POST", "/v1/card-auth/verify", body)
    return status, answer


def family(bureau: Bureau, assurance: dict) -> tuple[int, dict]:
    body = {"id_number": WANG, "assurance": assurance}
    openapi_util.validate("CitizenQuery", body)
    status, _, answer = checked(bureau, "POST", "/v1/queries/family-members", body)
    return status, answer


def test_a_genuine_card_earns_a_card_auth_id_that_opens_its_holders_data(bureau):
    issued = challenge(bureau)
    status, result = verify(bureau, issued, card_answer(WANG_CARD, bytes.fromhex(issued["challenge"])))
    assert status == 200 and result["expires_in_s"] > 0
    status, answer = family(bureau, {"method": "card_pin", "card_number": WANG_CARD,
                                     "card_auth_id": result["card_auth_id"]})
    assert status == 200 and answer["members"]


def test_the_forged_card_is_refused_and_earns_nothing(bureau):
    issued = challenge(bureau)
    forged = card_answer(WANG_CARD, bytes.fromhex(issued["challenge"]), persona="forged")
    status, problem = verify(bureau, issued, forged)
    assert status == 403 and problem["code"] == "card_auth_failed" and problem["retryable"] is False


def test_a_challenge_is_answered_once_and_only_for_its_card(bureau):
    issued = challenge(bureau)
    answer = card_answer(WANG_CARD, bytes.fromhex(issued["challenge"]))
    assert verify(bureau, issued, answer)[0] == 200
    status, problem = verify(bureau, issued, answer)
    assert status == 403 and problem["code"] == "card_auth_failed"
    other = challenge(bureau, LI_CARD)  # issued for 李建国's card, answered as 王秀英's
    status, _ = verify(bureau, other, card_answer(WANG_CARD, bytes.fromhex(other["challenge"])))
    assert status == 403


def test_a_challenge_for_an_unknown_card_is_not_issued(bureau):
    status, _, problem = checked(bureau, "POST", "/v1/card-auth/challenge", {"card_number": "Z99999999"})
    assert status == 404 and problem["code"] == "card_not_found"
    status, _, problem = checked(bureau, "POST", "/v1/card-auth/challenge", {"card_number": "a1"})
    assert status == 400


def test_card_pin_queries_need_a_card_auth_id_of_that_card(bureau):
    bare = {"method": "card_pin", "card_number": WANG_CARD}
    for assurance in (bare, {**bare, "card_auth_id": "CA-0123456789ABCDEF"},
                      {**bare, "card_auth": offline_proof(WANG_CARD)}):  # offline proofs: submissions only
        status, problem = family(bureau, assurance)
        assert status == 403 and problem["code"] == "assurance_invalid", assurance
    li_auth = card_auth_id(bureau, LI_CARD)
    status, _ = family(bureau, {**bare, "card_auth_id": li_auth})  # another card's authentication
    assert status == 403


def _outcome(result: dict) -> str:
    reason = result.get("reason") or {}
    return f"{result['outcome']}:{reason.get('code', '')}"


def test_card_pin_submissions_need_a_fresh_proof(bureau):
    data = lambda assurance: {"card_number": WANG_CARD, "loss_type": "temporary",  # noqa: E731
                              "assurance": assurance}
    bare = {"method": "card_pin", "card_number": WANG_CARD}
    proof = offline_proof(WANG_CARD)
    items = [sealed_item(bureau, data=data(bare)),
             sealed_item(bureau, data=data({**bare, "card_auth": offline_proof(WANG_CARD, "forged")})),
             sealed_item(bureau, data=data({**bare, "card_auth": proof})),
             sealed_item(bureau, data=data({**bare, "card_auth": proof})),  # the same challenge again
             sealed_item(bureau, data=data({**bare, "card_auth_id": card_auth_id(bureau, WANG_CARD)}))]
    results = submit(bureau, *items)
    assert [_outcome(r) for r in results] == ["rejected:assurance_invalid", "rejected:assurance_invalid",
                                              "accepted:", "rejected:assurance_invalid", "accepted:"]
    # a second delivery of the accepted one is answered from its first answer, not taken for a replay
    again = submit(bureau, items[2])
    assert again[0]["outcome"] == "duplicate" and again[0]["answer"]["outcome"] == "accepted"
