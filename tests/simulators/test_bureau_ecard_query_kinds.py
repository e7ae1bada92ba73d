"""The kiosk reaches the new bureau operations by query kind (kiosk/sync/client.py QUERY_PATHS): every
kind names a POST of the contract, and the real client, over mutual TLS, signs a citizen in with an
e-card token and asks for a participation certificate through the simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk.sync.client import QUERY_PATHS, BureauClient, BureauRejected
from tests import openapi_util
from tests.bureau_harness import KIOSK, QIAN, Bureau

OTHER = "KIOSK-0002"
NEW_KINDS = {"ecard_sign_in": "ECardSignIn", "ecard_status": "ECardStatus",
             "ecard_application": "ECardApplication", "family_member_add": "FamilyMembers",
             "family_member_remove": "FamilyMembers", "participation_certificate": "ParticipationCertificate",
             "certificate_verify": "CertificateVerification"}


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bureau]:
    root = tmp_path_factory.mktemp("bureau")
    sim = Bureau(state=root / "state", ready_file=root / "ready.json",
                 extra_args=("--kiosk-id", KIOSK, "--kiosk-id", OTHER))
    sim.start()
    yield sim
    sim.stop()


def test_every_query_kind_is_a_post_of_the_contract_answering_its_schema() -> None:
    paths = openapi_util.api_document()["paths"]
    for kind, path in QUERY_PATHS.items():
        assert "post" in paths.get(path, {}), (kind, path)
    for kind, schema in NEW_KINDS.items():
        assert openapi_util.response_schema(QUERY_PATHS[kind], "POST", 200) == schema, kind


def kiosk_client(bureau: Bureau, kiosk: str = KIOSK) -> BureauClient:
    return BureauClient(f"https://localhost:{bureau.info['port']}", kiosk, bureau.file("server_ca"),
                        bureau.file(f"kiosk_cert:{kiosk}"), bureau.file(f"kiosk_key:{kiosk}"), 5.0)


def test_the_kiosk_client_signs_in_by_e_card_and_gets_a_certificate(bureau: Bureau) -> None:
    client = kiosk_client(bureau)
    token = bureau.admin("POST", "/ecard/tokens", {"id_number": QIAN})["token"]
    signed_in = client.query("ecard_sign_in", {"token": token})
    openapi_util.validate("ECardSignIn", signed_in)
    assert signed_in["citizen"]["id_number"] == QIAN
    with pytest.raises(BureauRejected) as reused:
        client.query("ecard_sign_in", {"token": token})
    assert reused.value.code == "token_used" and reused.value.status == 403
    assurance = {"method": "ecard_qr", "verification_id": signed_in["verification_id"]}
    doc = client.query("participation_certificate", {"id_number": QIAN, "assurance": assurance,
                                                     "insurances": ["unemployment"],
                                                     "from": "2025-01", "to": "2025-06"})
    openapi_util.validate("ParticipationCertificate", doc)
    assert doc["rows"][0]["months_paid"] == 5 and doc["rows"][0]["months_owed"] == 1
    check = client.query("certificate_verify", {"verification_code": doc["verification"]["code"]})
    assert check["certificate_id"] == doc["certificate_id"]


def test_a_sign_in_serves_only_the_kiosk_that_presented_the_token(bureau: Bureau) -> None:
    token = bureau.admin("POST", "/ecard/tokens", {"id_number": QIAN})["token"]
    signed_in = kiosk_client(bureau).query("ecard_sign_in", {"token": token})
    body = {"id_number": QIAN, "assurance": {"method": "ecard_qr",
                                             "verification_id": signed_in["verification_id"]}}
    assert kiosk_client(bureau).query("ecard_status", body)["status"] == "active"
    with pytest.raises(BureauRejected) as other:
        kiosk_client(bureau, OTHER).query("ecard_status", body)
    assert other.value.code == "assurance_invalid"
