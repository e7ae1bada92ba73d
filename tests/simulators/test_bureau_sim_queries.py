"""Bureau simulator queries, reference data, heartbeat and face match, checked against the API."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.bureau_harness import (
    KIOSK,
    LI,
    NOBODY,
    QIAN,
    ROOT,
    WANG,
    WU,
    ZHOU,
    Bureau,
    checked,
    query,
    sealed_item,
    submit,
    tiny_jpeg,
)


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bureau]:
    root = tmp_path_factory.mktemp("bureau")
    sim = Bureau(state=root / "state", ready_file=root / "ready.json")
    sim.start()
    yield sim
    sim.stop()



# ---- queries, reference data, heartbeat ------------------------------------------------

def test_payment_records_follow_the_documented_rules(bureau: Bureau) -> None:
    status, body = query(bureau, "payment-records", QIAN, insurance="pension", year=2024)
    assert status == 200 and len(body["rows"]) == 12
    for row in body["rows"]:
        base = Decimal(row["base"])
        assert Decimal(row["employer_amount"]) == (base * Decimal("0.16")).quantize(Decimal("0.01"))
        assert Decimal(row["personal_amount"]) == (base * Decimal("0.08")).quantize(Decimal("0.01"))
    assert [r["month"] for r in body["rows"] if r["status"] == "owed"] == ["2024-11", "2024-12"]
    assert query(bureau, "payment-records", QIAN, insurance="pension", year=2024)[1] == body


def test_every_query_answers_in_schema(bureau: Bureau) -> None:
    for id_number in (WANG, LI, QIAN, ZHOU, WU):
        for name in ("payment-base", "arrears", "pension-account", "medical-account",
                     "card-status", "card-applications", "family-members"):
            assert query(bureau, name, id_number)[0] == 200
        assert query(bureau, "pension-payments", id_number, year=2025)[0] == 200
    assert query(bureau, "arrears", QIAN)[1]["items"][0]["month"] == "2024-11"
    assert query(bureau, "card-status", ZHOU)[1]["status"] == "reported_lost"
    assert query(bureau, "card-status", WU)[1]["status"] == "none"
    [app] = query(bureau, "card-applications", WU)[1]["applications"]
    assert app["current_stage"] == "printing_at_bank"
    payments = query(bureau, "pension-payments", WANG, year=2025)[1]["payments"]
    assert len(payments) == 6 and payments[0]["account_masked"] == "6222***********3445"
    members = query(bureau, "family-members", QIAN)[1]["members"]
    assert [(m["id_number"], m["relation"]) for m in members] == [(ZHOU, "parent")]


def test_queries_refuse_without_assurance_and_for_unknown_citizens(bureau: Bureau) -> None:
    status, _, body = checked(bureau, "POST", "/v1/queries/arrears",
                              {"id_number": WANG, "assurance": {"method": "none"}})
    assert status == 403 and body["code"] == "assurance_invalid"
    status, _, body = checked(bureau, "POST", "/v1/queries/arrears", {
        "id_number": WANG, "assurance": {"method": "card_pin", "card_number": "J00000010"}})
    assert status == 403
    status, _, body = checked(bureau, "POST", "/v1/queries/arrears", {
        "id_number": NOBODY, "assurance": {"method": "card_pin", "card_number": "A00000001"}})
    assert status == 404 and body["code"] == "citizen_not_found"
    status, _, body = checked(bureau, "POST", "/v1/queries/arrears", {"id_number": WANG})
    assert status == 400


def test_loss_report_changes_the_card_status(bureau: Bureau) -> None:
    assert query(bureau, "card-status", LI)[1]["status"] == "active"
    [result] = submit(bureau, sealed_item(bureau, id_number=LI, name="李建国"))
    assert result["outcome"] == "accepted"
    status = query(bureau, "card-status", LI)[1]
    assert status["status"] == "reported_lost"
    assert status["reported_lost_at"] == "2025-06-30T08:00:00Z"


def test_reference_data_uses_etags(bureau: Bureau) -> None:
    status, headers, body = checked(bureau, "GET", "/v1/reference/outlets")
    assert status == 200 and len(body["outlets"]) >= 3
    status, headers2, _ = checked(bureau, "GET", "/v1/reference/outlets",
                                  headers={"If-None-Match": headers["etag"]})
    assert status == 304 and headers2["etag"] == headers["etag"]

    path = f"/v1/reference/kiosk-config/{KIOSK}"
    status, headers, body = checked(bureau, "GET", path)
    assert status == 200 and body["kiosk_id"] == KIOSK
    bureau.admin("PUT", f"/kiosk-config/{KIOSK}", {"sync.heartbeat_interval_s": 30})
    status, _headers3, body = checked(bureau, "GET", path,
                                     headers={"If-None-Match": headers["etag"]})
    assert status == 200 and body["settings"] == {"sync.heartbeat_interval_s": 30}
    assert checked(bureau, "GET", "/v1/reference/kiosk-config/KIOSK-0002")[0] == 403


def heartbeat_body(kiosk: str = KIOSK) -> dict[str, Any]:
    return {"kiosk_id": kiosk, "sent_at": "2025-06-30T08:00:00Z", "clock_synchronised": False,
            "boot_counter": 3, "uptime_s": 120, "software_version": "0.1.0",
            "devices": [{"device": "reader", "state": "ok"},
                        {"device": "printer", "state": "degraded", "reason": "paper low"}],
            "queue": {"pending": 4, "in_flight": 1, "dead": 0, "oldest_pending_age_s": 30},
            "usage": {"pension_certification": 2, "queries": 5}}


def test_heartbeat_is_acknowledged_and_kept(bureau: Bureau) -> None:
    status, _, ack = checked(bureau, "POST", f"/v1/kiosks/{KIOSK}/heartbeat", heartbeat_body())
    assert status == 200 and ack["config_version"]
    status, _, body = checked(bureau, "POST", "/v1/kiosks/KIOSK-0002/heartbeat",
                              heartbeat_body("KIOSK-0002"))
    assert status == 403 and body["code"] == "kiosk_mismatch"
    beats = bureau.admin("GET", "/heartbeats")["heartbeats"]
    assert beats[0]["kiosk_id"] == KIOSK and beats[0]["body"]["queue"]["pending"] == 4


# ---- face match --------------------------------------------------------------------------

def _face_pictures(source: str) -> list[dict[str, str]]:
    cv2 = pytest.importorskip("cv2")
    np = pytest.importorskip("numpy")
    from simulators.bureau.facematch import resolve_photo

    path = resolve_photo(source, ROOT)
    if path is None:
        pytest.skip(f"{source} is not installed")
    image = cv2.imread(str(path))
    out = []
    for i, (scale, angle) in enumerate([(0.7, -4), (0.85, 0), (1.0, 3), (0.8, 5)]):
        im = cv2.resize(image, None, fx=scale, fy=scale)
        canvas = np.full((480, 640, 3), 90, np.uint8)
        h, w = min(im.shape[0], 480), min(im.shape[1], 640)
        canvas[(480 - h) // 2:(480 - h) // 2 + h, (640 - w) // 2:(640 - w) // 2 + w] = im[:h, :w]
        matrix = cv2.getRotationMatrix2D((320, 240), angle, 1.0)
        canvas = cv2.warpAffine(canvas, matrix, (640, 480))
        canvas = cv2.convertScaleAbs(canvas, alpha=1.0 + 0.05 * i, beta=5 * i)
        _ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 80])
        out.append({"jpeg_b64": base64.b64encode(buf.tobytes()).decode()})
    return out


def _verify(bureau: Bureau, id_number: str, name: str, pictures: list[Any]) -> dict[str, Any]:
    status, _, body = checked(bureau, "POST", "/v1/identity/verify", {
        "id_number": id_number, "name": name, "pictures": pictures,
        "liveness": {"passed": True, "challenge": "mouth_open_x3"}})
    assert status == 200
    return dict(body)


def test_face_match_stand_in_tells_people_apart(bureau: Bureau) -> None:
    grace, astronaut = _face_pictures("matplotlib:grace_hopper"), _face_pictures(
        "skimage:astronaut")
    same = _verify(bureau, WANG, "王秀英", grace)
    assert same["verdict"] == "match" and same["faces_found"] == 4
    assert _verify(bureau, WANG, "王秀英", astronaut)["verdict"] == "no_match"
    assert _verify(bureau, "310104198807230027", "陈𠈌", astronaut)["verdict"] == "match"
    assert _verify(bureau, LI, "李建国", grace)["verdict"] == "no_photo_of_record"
    assert _verify(bureau, WANG, "王秀", grace)["verdict"] == "no_match"
    blank = [{"jpeg_b64": tiny_jpeg(i * 40)} for i in range(1, 5)]
    assert _verify(bureau, WANG, "王秀英", blank)["verdict"] == "poor_quality"

    # a match verdict is an assurance for this citizen's data, and only for theirs
    assurance = {"method": "face_match", "verification_id": same["verification_id"]}
    status, _, _ = checked(bureau, "POST", "/v1/queries/pension-account",
                           {"id_number": WANG, "assurance": assurance})
    assert status == 200
    status, _, _ = checked(bureau, "POST", "/v1/queries/pension-account",
                           {"id_number": LI, "assurance": copy.deepcopy(assurance)})
    assert status == 403
