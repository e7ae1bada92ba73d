"""The bureau simulator as a black box: a subprocess spoken to over HTTPS with mutual TLS.

Every answer is checked against docs/bureau-api.yaml; envelopes are sealed with the test-side
sealer (tests/envelope_util.py), never with the kiosk's.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from tests import envelope_util as eu
from tests import openapi_util
from tests.bureau_harness import (
    NETWORK_ERRORS,
    NOBODY,
    ROOT,
    WANG,
    Bureau,
    checked,
    sealed_item,
    submit,
)


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bureau]:
    root = tmp_path_factory.mktemp("bureau")
    sim = Bureau(state=root / "state", ready_file=root / "ready.json")
    sim.start()
    yield sim
    sim.stop()


# ---- transport ---------------------------------------------------------------------------

@pytest.mark.parametrize("cert", [None, "rogue", "expired"])
def test_mtls_refuses_client_without_valid_certificate(bureau: Bureau, cert: str | None) -> None:
    """GIVEN no client certificate, one from another CA, or an expired one
    WHEN the client tries any request THEN the TLS handshake fails and no HTTP answer comes."""
    with pytest.raises(NETWORK_ERRORS):
        bureau.call("GET", "/v1/reference/outlets", conn=bureau.connect(cert))
    status, _, _ = checked(bureau, "GET", "/v1/reference/outlets")
    assert status == 200


def test_keep_alive_serves_several_requests_on_one_connection(bureau: Bureau) -> None:
    conn = bureau.connect()
    try:
        for _ in range(3):
            status, _, _ = bureau.call("GET", "/v1/reference/outlets", conn=conn)
            assert status == 200
        first_socket = conn.sock
        bureau.call("GET", "/v1/reference/outlets", conn=conn)
        assert conn.sock is first_socket
    finally:
        conn.close()


# ---- submissions -------------------------------------------------------------------------

def test_repeated_key_returns_first_answer_even_after_restart(bureau: Bureau) -> None:
    item = sealed_item(bureau)
    [first] = submit(bureau, item)
    assert first["outcome"] == "accepted"
    assert first["answer"]["bureau_receipt"].startswith("BR-")

    bureau.restart()
    # a different envelope under the same key: the first answer still wins
    again = sealed_item(bureau, key=item["idempotency_key"], kind="pension_certification")
    [second, also_first] = submit(bureau, again, item)
    for dup in (second, also_first):
        assert dup["outcome"] == "duplicate"
        assert eu.canonical_json(dup["answer"]) == eu.canonical_json(first["answer"])
    stored = bureau.admin("GET", f"/submissions/{item['idempotency_key']}")
    assert stored["times_received"] == 3
    assert stored["payload"]["kind"] == "card_loss_report"
    assert stored["payload"]["citizen"]["id_number"] == WANG


def test_certification_with_pictures_is_accepted_and_pictures_kept_as_digests(
        bureau: Bureau) -> None:
    item = sealed_item(bureau, kind="pension_certification")
    [result] = submit(bureau, item)
    assert result["outcome"] == "accepted" and result["answer"]["result_follows"] is True
    stored = bureau.admin("GET", f"/submissions/{item['idempotency_key']}")
    assert [p["role"] for p in stored["payload"]["pictures"]] == [
        "liveness_1", "liveness_2", "liveness_3", "liveness_4"]
    assert all(set(p) == {"role", "bytes", "sha256"} for p in stored["payload"]["pictures"])


def _tamper_metadata(item: dict[str, Any]) -> None:
    item["envelope"]["metadata"]["created_at"] = "2025-06-30T09:00:00Z"


def _flip_ciphertext(item: dict[str, Any]) -> None:
    raw = bytearray(eu.b64url_decode(item["envelope"]["ciphertext"]))
    raw[5] ^= 1
    item["envelope"]["ciphertext"] = eu.b64url(bytes(raw))


def _unknown_kid(item: dict[str, Any]) -> None:
    item["envelope"]["kid"] = "0" * 16


def _wrong_key(item: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    other = eu.seal_envelope(X25519PrivateKey.generate().public_key(),
                             {k: v for k, v in item["envelope"]["metadata"].items()
                              if k != "size"}, {"format": 1})
    item["envelope"]["enc"], item["envelope"]["ciphertext"] = other["enc"], other["ciphertext"]


def _bad_version(item: dict[str, Any]) -> None:
    item["envelope"]["version"] = 2


@pytest.mark.parametrize("spoil, reason", [
    (_tamper_metadata, "decrypt_failed"),
    (_flip_ciphertext, "decrypt_failed"),
    (_unknown_kid, "unknown_key"),
    (_wrong_key, "decrypt_failed"),
    (_bad_version, "schema_invalid"),
])
def test_bad_envelope_is_rejected_permanently_and_stays_rejected(
        bureau: Bureau, spoil: Any, reason: str) -> None:
    good, bad = sealed_item(bureau), sealed_item(bureau)
    spoil(bad)
    ok, rejected = submit(bureau, good, bad)
    assert ok["outcome"] == "accepted", "one bad item must not sink the batch"
    assert rejected["outcome"] == "rejected"
    assert rejected["reason"] == {**rejected["reason"], "code": reason, "permanent": True}
    [again] = submit(bureau, bad)
    assert again["outcome"] == "duplicate"
    assert again["answer"] == rejected["answer"]


@pytest.mark.parametrize("build, reason", [
    (lambda b: sealed_item(b, kiosk="KIOSK-0002"), "kiosk_mismatch"),
    (lambda b: sealed_item(b, id_number=NOBODY), "citizen_not_found"),
    (lambda b: sealed_item(b, id_number="110105195803120028"), "invalid_id_number"),
    (lambda b: sealed_item(b, data={"card_number": "Z99999999", "assurance": {
        "method": "card_pin", "card_number": "Z99999999"}}), "assurance_invalid"),
    (lambda b: sealed_item(b, kind="pension_certification", pictures=[]), "payload_invalid"),
])
def test_sound_envelope_with_wrong_content_is_rejected_permanently(
        bureau: Bureau, build: Any, reason: str) -> None:
    [result] = submit(bureau, build(bureau))
    assert result["outcome"] == "rejected"
    assert result["reason"]["code"] == reason and result["reason"]["permanent"] is True


def test_metadata_key_must_match_item(bureau: Bureau) -> None:
    item = sealed_item(bureau)
    item["idempotency_key"] = str(uuid.uuid4())
    [result] = submit(bureau, item)
    assert result["reason"]["code"] == "metadata_mismatch"


def test_malformed_batch_is_a_bad_request(bureau: Bureau) -> None:
    status, _, body = checked(bureau, "POST", "/v1/submissions", {"items": []})
    assert status == 400 and body["code"] == "bad_request" and body["retryable"] is False
    status, _, _raw = bureau.call("POST", "/v1/submissions", None,
                                 headers={"Content-Length": "0"})
    assert status == 400


def test_documented_test_vector_opens_with_the_simulators_opener() -> None:
    """The vector in docs/sealed-envelope.md is what cryptography's HPKE opens."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from simulators.bureau.envelope import Opener

    doc = (ROOT / "docs" / "sealed-envelope.md").read_text(encoding="utf-8")
    envelope = json.loads(re.findall(r"```json\n(\{\n.*?\n\})\n```", doc, re.S)[-1])
    plaintext = re.search(r"plaintext +\(278 bytes UTF-8\)\n(.*)\n", doc).group(1)
    sk_r = X25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"ssc-kiosk test vector recipient").digest())
    opened = Opener([sk_r]).open(envelope)
    assert opened.plaintext == plaintext.encode("utf-8")
    openapi_util.validate("SealedEnvelope", envelope)
    openapi_util.validate("SubmissionPayload", json.loads(opened.plaintext))
    # and the hand-written sealer reproduces it byte for byte from the same ephemeral key
    sk_e = X25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"ssc-kiosk test vector ephemeral").digest())
    meta = {k: v for k, v in envelope["metadata"].items() if k != "size"}
    again = eu.seal_envelope(sk_r.public_key(), meta, json.loads(plaintext), sk_e)
    assert again == envelope


# ---- faults ------------------------------------------------------------------------------

def test_faults_set_at_run_time_change_behaviour(bureau: Bureau) -> None:
    try:
        bureau.admin("PUT", "/faults", {"throttle_rate": 1.0, "retry_after_s": 7})
        status, headers, body = checked(bureau, "GET", "/v1/reference/outlets")
        assert status == 429 and headers["retry-after"] == "7"
        assert body["code"] == "throttled" and body["retryable"] is True

        bureau.admin("PUT", "/faults", {"throttle_rate": 0.0, "error_rate": 1.0})
        status, headers, body = checked(bureau, "POST", "/v1/submissions",
                                        {"items": [sealed_item(bureau)]})
        assert status == 503 and "retry-after" in headers and body["retryable"] is True

        bureau.admin("PUT", "/faults", {"error_rate": 0.0, "garbage_rate": 1.0})
        for _ in range(4):
            status, _, raw = bureau.call("GET", "/v1/reference/outlets")
            assert status == 200
            with pytest.raises((ValueError, jsonschema.ValidationError)):
                openapi_util.validate("Outlets", json.loads(raw))

        bureau.admin("PUT", "/faults", {"garbage_rate": 0.0, "drop_rate": 1.0})
        with pytest.raises(NETWORK_ERRORS):
            bureau.call("GET", "/v1/reference/outlets")

        bureau.admin("PUT", "/faults", {"drop_rate": 0.0, "latency_ms": 300})
        started = time.monotonic()
        assert checked(bureau, "GET", "/v1/reference/outlets")[0] == 200
        assert time.monotonic() - started >= 0.3
    finally:
        bureau.admin("PUT", "/faults", {"throttle_rate": 0, "error_rate": 0, "garbage_rate": 0,
                                        "drop_rate": 0, "latency_ms": 0})
    stats = bureau.admin("GET", "/stats")
    assert stats["fault_throttle"] >= 1 and stats["fault_error"] >= 1
    assert stats["fault_garbage"] >= 4
    assert stats.get("fault_drop_before", 0) + stats.get("fault_drop_after", 0) >= 1


def test_answer_lost_after_storing_is_repeated_on_retry(bureau: Bureau) -> None:
    """GIVEN a bureau that drops every connection (half of them after storing)
    WHEN the kiosk retries the same item until the bureau has stored it
    THEN the retry after the network heals gets the stored first answer, once."""
    item = sealed_item(bureau)
    key = item["idempotency_key"]
    try:
        bureau.admin("PUT", "/faults", {"drop_rate": 1.0})
        for _ in range(40):
            with pytest.raises(NETWORK_ERRORS):
                bureau.call("POST", "/v1/submissions", {"items": [item]})
            if any(s["idempotency_key"] == key for s in bureau.admin("GET", "/submissions")[
                    "items"]):
                break
        else:
            pytest.fail("the bureau never stored the item")
    finally:
        bureau.admin("PUT", "/faults", {"drop_rate": 0.0})
    [result] = submit(bureau, item)
    assert result["outcome"] == "duplicate" and result["answer"]["outcome"] == "accepted"


def test_injected_tls_failure_closes_before_the_handshake(bureau: Bureau) -> None:
    try:
        bureau.admin("PUT", "/faults", {"tls_failure_rate": 1.0})
        with pytest.raises(NETWORK_ERRORS):
            bureau.call("GET", "/v1/reference/outlets")
    finally:
        bureau.admin("PUT", "/faults", {"tls_failure_rate": 0.0})
    assert bureau.admin("GET", "/stats")["fault_tls_failure"] >= 1
    assert checked(bureau, "GET", "/v1/reference/outlets")[0] == 200


def test_bad_fault_values_are_refused(bureau: Bureau) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", bureau.info["admin_port"], timeout=5)
    conn.request("PUT", "/faults", body=json.dumps({"error_rate": 2}))
    assert conn.getresponse().status == 400
    conn.close()
