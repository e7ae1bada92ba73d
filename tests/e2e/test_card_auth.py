"""Issue 13, finding 1: a forged card (a real citizen's printed numbers on a programmable card, the
forger's keys and PIN) is refused by the kiosk on the spot, and by the bureau when the kiosk is
bypassed through the sync daemon's socket. Genuine cards prove themselves by INTERNAL
AUTHENTICATE over a fresh challenge, online (the bureau's) and offline (the kiosk's)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kiosk.sync.client import BureauRejected
from kiosk.sync.ipc import SyncClient
from tests.conftest import CARD_READER, PSAM_READER

WANG = "110105195803120029"  # 王秀英: card A00000001; persona "forged" carries her printed numbers
WANG_CARD = "A00000001"
FORGER_PIN = "147258"


@pytest.fixture
def socket_client(sims) -> SyncClient:
    return SyncClient(sims.env["KIOSK_SYNC_SOCKET_PATH"])


@pytest.fixture
def card_in(sims) -> Iterator[Any]:
    """Insert a persona and open it on the card slot the way the kiosk does (pyscard, pcscd)."""
    from kiosk.hw.reader_pcsc import PcscReader
    from kiosk.services.card_service import CardService

    readers: list[Any] = []

    def insert(persona: str) -> CardService:
        if readers:  # swap: pcscd polls every 400 ms; let it see the first card leave
            sims.card.ctl("REMOVE")
            time.sleep(1.0)
        sims.card.ctl(f"INSERT {persona}")
        reader = PcscReader(CARD_READER, exchange_timeout_s=5.0)
        readers.append(reader)
        service = CardService(reader)
        service.insert_and_read(10)
        return service

    yield insert
    for r in readers:
        r.close()
    sims.card.ctl("REMOVE")
    sims.card.ctl("RESET-STATE")
    time.sleep(1.0)  # as the e2e conftest: the next test's card must not meet this one's state


def psam():
    from kiosk.hw.reader_pcsc import PcscReader

    return PcscReader(PSAM_READER, exchange_timeout_s=5.0)


def cryptogram(service: Any, challenge: bytes) -> bytes:
    """What the card in the reader answers to INTERNAL AUTHENTICATE (the attacker's own APDU)."""
    return service._require().internal_authenticate(challenge)


# ------------------------------------------------------------------------- the kiosk refuses
def test_forged_card_is_refused_at_the_kiosk_before_any_personal_data(make_kiosk):
    """GIVEN a card with 王秀英's ID, name and card number but not the issuer's keys WHEN it is
    used for a balance query THEN the kiosk says it cannot be verified, with no way on but home."""
    k = make_kiosk()
    k.tap("tile-balances")
    k.sims.card.ctl("INSERT forged")
    k.until(lambda: k.ui.screen.name in ("identify", "pin_entry", "message"), 20, "identification")
    if k.ui.screen.name == "identify":
        k.tap("choice-card")
    k.until(lambda: k.ui.screen.name in ("pin_entry", "message"), 30, "PIN or refusal")
    if k.ui.screen.name == "pin_entry":  # the forger knows the PIN: it is his
        k.type(FORGER_PIN)
        k.tap("confirm")
    k.until(lambda: k.ui.screen.name in ("result", "message"), 30, "result or refusal")
    k.shot("card-forged-refused")
    assert k.ui.screen.name == "message", f"the forged card was served: {k.ui.screen.name}"
    assert k.ui.screen.heading == "card.error.not_genuine.title"
    assert [b.name for b in k.ui.screen.buttons] == ["home"]
    assert "此卡无法验证，请到窗口办理" in k.texts()


def test_forged_card_is_refused_in_english_too(make_kiosk):
    k = make_kiosk("en")
    k.tap("tile-balances")
    k.sims.card.ctl("INSERT forged")
    k.until(lambda: k.ui.screen.name in ("identify", "message"), 20, "identification")
    if k.ui.screen.name == "identify":
        k.tap("choice-card")
    k.until(lambda: k.ui.screen.name == "message", 30, "refusal")
    assert "This card could not be verified; please go to a service counter" in k.texts()


def test_genuine_card_authenticates_online_with_a_bureau_challenge(sims, card_in, socket_client):
    from kiosk.services.card_service import CardService

    service: CardService = card_in("activated")
    reader = psam()
    try:
        proof = service.authenticate(socket_client.query, reader, 10)
    finally:
        reader.close()
    body = proof.assurance().to_json()
    assert body["method"] == "card_pin" and body["card_number"] == WANG_CARD
    assert body["card_auth_id"].startswith("CA-") and "card_auth" not in body
    answer = socket_client.query("pension_account", {"id_number": WANG, "assurance": body})
    assert "total" in answer


def test_forged_card_without_a_kiosk_psam_is_refused_by_the_bureau(sims, card_in, socket_client):
    """No PSAM at the kiosk: the bureau alone judges the cryptogram, and refuses the forged one."""
    from kiosk.card.errors import CardNotGenuine

    service = card_in("forged")
    with pytest.raises(CardNotGenuine):
        service.authenticate(socket_client.query, None, 10)


def test_forged_card_is_refused_by_the_kiosk_psam_offline(sims, card_in):
    """Bureau unreachable: the kiosk draws the challenge and its PSAM refuses the forged card."""
    from kiosk.card.errors import CardNotGenuine
    from kiosk.sync.client import BureauUnreachable

    def offline(kind: str, body: dict, timeout: float) -> dict:
        raise BureauUnreachable("test: offline")

    service = card_in("forged")
    reader = psam()
    try:
        with pytest.raises(CardNotGenuine):
            service.authenticate(offline, reader, 10)
        genuine = card_in("activated")
        proof = genuine.authenticate(offline, reader, 10)
    finally:
        reader.close()
    body = proof.assurance().to_json()
    assert "card_auth_id" not in body and len(bytes.fromhex(body["card_auth"]["challenge"])) == 8


# ----------------------------------------------------------- the bureau refuses (kiosk bypassed)
def test_card_pin_query_through_the_socket_needs_a_verified_cryptogram(sims, card_in, socket_client):
    """GIVEN the attacker talks to the sync daemon's socket himself WHEN he asks 王秀英's family
    members under card_pin with no cryptogram, with a made-up card_auth_id, or with the forged
    card's cryptogram THEN the bureau refuses each (403 assurance_invalid / card_auth_failed)."""
    bare = {"method": "card_pin", "card_number": WANG_CARD}
    with pytest.raises(BureauRejected) as err:
        socket_client.query("family_members", {"id_number": WANG, "assurance": bare})
    assert err.value.status == 403 and err.value.code == "assurance_invalid"
    with pytest.raises(BureauRejected) as err:
        socket_client.query("family_members", {"id_number": WANG, "assurance": {
            **bare, "card_auth_id": "CA-0123456789ABCDEF"}})
    assert err.value.status == 403
    # an offline proof is for submissions only: a query needs the bureau's own challenge
    with pytest.raises(BureauRejected) as err:
        socket_client.query("family_members", {"id_number": WANG, "assurance": {
            **bare, "card_auth": {"challenge": "00" * 8, "cryptogram": "00" * 16}}})
    assert err.value.status in (400, 403)

    service = card_in("forged")
    challenge = socket_client.query("card_auth_challenge", {"card_number": WANG_CARD})
    forged = cryptogram(service, bytes.fromhex(challenge["challenge"]))
    with pytest.raises(BureauRejected) as err:
        socket_client.query("card_auth_verify", {"challenge_id": challenge["challenge_id"],
                                                 "card_number": WANG_CARD, "cryptogram": forged.hex().upper()})
    assert err.value.status == 403 and err.value.code == "card_auth_failed"


def test_a_bureau_challenge_is_good_for_one_answer_only(sims, card_in, socket_client):
    service = card_in("activated")
    challenge = socket_client.query("card_auth_challenge", {"card_number": WANG_CARD})
    answer = cryptogram(service, bytes.fromhex(challenge["challenge"])).hex().upper()
    body = {"challenge_id": challenge["challenge_id"], "card_number": WANG_CARD, "cryptogram": answer}
    first = socket_client.query("card_auth_verify", body)
    assert first["card_auth_id"].startswith("CA-")
    with pytest.raises(BureauRejected) as err:
        socket_client.query("card_auth_verify", body)  # replayed
    assert err.value.code == "card_auth_failed"
    # the card_auth_id is bound to the card it was issued for
    with pytest.raises(BureauRejected):
        socket_client.query("pension_account", {"id_number": "110105195501080017", "assurance": {
            "method": "card_pin", "card_number": "A00000002", "card_auth_id": first["card_auth_id"]}})


def _submit(k, assurance: dict, holder: tuple[str, str, str] = (WANG, "王秀英", WANG_CARD)) -> dict:
    """A card loss report, queued straight into the outbox (no card flow, no PSAM)."""
    id_number, name, card = holder
    sub = k.ui.services.submit("card_loss_report", {"id_number": id_number, "name": name},
                               {"card_number": card, "loss_type": "temporary", "assurance": assurance})
    stored = k.sims.wait_submission(sub.reference)
    return k.sims.bureau.admin("GET", f"/submissions/{stored['idempotency_key']}")


def test_card_pin_submissions_need_a_fresh_verified_cryptogram(make_kiosk, card_in):
    """Submissions under card_pin: none without a proof, none with the forged card's proof, none
    that replays a challenge the bureau has seen; a genuine offline proof is accepted once."""
    k = make_kiosk()
    bare = {"method": "card_pin", "card_number": WANG_CARD}

    def outcome(detail: dict) -> str:
        import json

        answer = json.loads(detail["answer"]) if isinstance(detail["answer"], str) else detail["answer"]
        return answer["outcome"] + ":" + answer.get("reason", {}).get("code", "")

    assert outcome(_submit(k, bare)) == "rejected:assurance_invalid"

    forged = card_in("forged")
    challenge = os.urandom(8)
    proof = {"challenge": challenge.hex().upper(), "cryptogram": cryptogram(forged, challenge).hex().upper()}
    assert outcome(_submit(k, {**bare, "card_auth": proof})) == "rejected:assurance_invalid"

    # an accepted report marks the card lost at the bureau for the rest of the session: not 王秀英's,
    # whose card the face-flow loss report test reports lost
    genuine = card_in("second_gen")
    lee = ("110105195501080017", "李建国", "A00000002")
    lee_bare = {"method": "card_pin", "card_number": lee[2]}
    challenge = os.urandom(8)
    proof = {"challenge": challenge.hex().upper(), "cryptogram": cryptogram(genuine, challenge).hex().upper()}
    assert outcome(_submit(k, {**lee_bare, "card_auth": proof}, lee)) == "accepted:"
    assert outcome(_submit(k, {**lee_bare, "card_auth": proof}, lee)) == "rejected:assurance_invalid"  # replay
