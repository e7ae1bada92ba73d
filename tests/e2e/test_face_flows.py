"""The face services end to end: the synthetic camera (its subject opens the mouth only when the
screen shows the cue), the real liveness pipeline, the bureau's face match over mutual TLS behind
the sync daemon, the sealed outbox, the printer simulator; identification by card over PC/SC or
by typed ID number and pinyin name."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kiosk.hw.camera_synthetic import SyntheticCameraAdapter
from kiosk.screens.liveness import LivenessScreen
from kiosk.services import receipts
from simulators.camera import SyntheticCamera, parse_spec
from tests.reach import reachable

WANG = "110105195803120029"  # 王秀英: retiree, card A00000001 (persona "activated"), grace_hopper on record
WANG_PINYIN = [("wang", "王"), ("xiu", "秀"), ("ying", "英")]
WANG_PIN = "258147"
ZHOU = "420106195612010061"  # 周桂兰: retiree, grace_hopper on record; 钱多多's parent
ZHOU_PINYIN = [("zhou", "周"), ("gui", "桂"), ("lan", "兰")]
QIAN = "610113197410120092"  # 钱多多: card J00000010 (persona "answers_61xx"), no photo of record
QIAN_PIN = "741852"
FAST = "synthetic:realtime=0"  # virtual clock: a 30-second attempt takes a second or two
JPEG_APP0 = b"\xff\xd8\xff\xe0"  # SOI + APP0 (JFIF), how every captured picture starts


@pytest.fixture
def faults(sims):
    yield lambda **f: sims.bureau.admin("PUT", "/faults", f)
    sims.bureau.admin("PUT", "/faults", {"error_rate": 0, "drop_rate": 0, "throttle_rate": 0, "garbage_rate": 0,
                                         "latency_ms": 0})


def both(k, name: str) -> None:
    """Screenshot the screen as it is, in both languages."""
    k.shot(name)
    first = k.ui.lang
    k.ui.set_language("en" if first == "zh_CN" else "zh_CN")
    k.shot(name)
    k.ui.set_language(first)


def card_login(k, persona: str, pin: str) -> None:
    k.sims.card.ctl(f"INSERT {persona}")
    k.screen("pin_entry", timeout=20)
    k.type(pin)
    k.tap("confirm")


def type_id_and_name(k, id_number: str, name: list[tuple[str, str]], shots: str = "") -> None:
    k.screen("id_entry")
    k.type(id_number)
    k.tap("confirm")
    screen = k.screen("name_entry")
    for pinyin, char in name:
        k.type(pinyin)
        k.until(lambda: any(c.label for c in screen.cells), 10, "candidates")
        if shots and char == name[0][1]:
            both(k, f"{shots}-name-candidates")
        while not any(c.label == char and c.enabled for c in screen.cells):
            k.tap("cand-next")
        k.ui.tap(next(c for c in screen.cells if c.label == char).rect.center)
        k.frame()
    assert screen.value == "".join(c for _p, c in name)
    if shots:
        both(k, f"{shots}-name")
    k.tap("confirm")


def face_check(k, shots: str = "") -> bytes:
    """Consent, liveness (genuine subject), the four pictures; returns the first picture."""
    k.screen("consent")
    if shots:
        both(k, f"{shots}-consent")
    k.tap("consent_agree")
    k.screen("liveness")
    pictures = k.screen("pictures", timeout=90)
    assert len(pictures.pictures) == 4
    first = pictures.pictures.jpegs[0]
    assert first.startswith(JPEG_APP0)
    if shots:
        both(k, f"{shots}-pictures")
    k.tap("use_pictures")
    return first


def stored(k, reference: str) -> dict:
    item = k.sims.wait_submission(reference)
    return k.sims.bureau.admin("GET", f"/submissions/{item['idempotency_key']}")["payload"]


def assert_sealed(k, picture: bytes, *secrets: str) -> None:
    """No plaintext face bytes and no ID number anywhere in the outbox database files."""
    data_dir = Path(k.sims.env["KIOSK_DATA_DIR"])
    files = sorted(data_dir.glob("outbox.db*"))
    assert files, f"no outbox database in {data_dir}"
    for path in files:
        raw = path.read_bytes()
        assert JPEG_APP0 not in raw, f"a JPEG start in {path.name}"
        assert picture[20:84] not in raw, f"picture bytes in {path.name}"
        for secret in secrets:
            assert secret.encode() not in raw, f"an ID number in plaintext in {path.name}"


_reachable = reachable

def finish(k, card: bool) -> None:
    k.tap("finish")
    if card:
        k.screen("take_card")
        k.sims.card.ctl("REMOVE")
    k.screen("home", timeout=15)
    assert k.ui.sessions.session is None
    k.frame()
    jpegs = [o for o in _reachable(k.ui) if isinstance(o, bytes) and len(o) > 64 and o.startswith(JPEG_APP0)]
    assert jpegs == [], "a face picture outlived the session"


def test_pension_certification_by_card_is_matched_submitted_sealed_and_printed(make_kiosk):
    k = make_kiosk("zh_CN", (1920, 1080), KIOSK_CAMERA=FAST)
    k.tap("tile-pension_auth")
    k.screen("identify")
    both(k, "pension-identify")
    k.tap("choice-card")
    card_login(k, "activated", WANG_PIN)
    k.screen("residence", timeout=20)
    both(k, "pension-residence")
    k.tap("choice-other_city")
    picture = face_check(k, "pension")
    confirm = k.screen("confirm", timeout=30)
    both(k, "pension-confirm")
    assert confirm.shown("certify.fact.face") == k.ui.t("certify.face_match")
    shown = [confirm.shown(f.label) for f in confirm.facts]
    assert WANG not in shown and "王秀英" not in shown  # masked
    k.tap("submit")
    result = k.screen("result", timeout=40)
    both(k, "pension-result")
    assert result.heading == "certify.done.pension_auth_passed" and result.receipt_note == "result.receipt_printed"
    payload = stored(k, result.reference)
    assert payload["kind"] == "pension_certification"
    assert payload["citizen"] == {"id_number": WANG, "name": "王秀英"}
    data = payload["data"]
    assert data["residence"] == "other_city" and data["assurance"]["method"] == "card_pin"
    # card + PIN + the card's proof that it is genuine (online: the bureau's card_auth_id)
    assert data["assurance"]["card_number"] == "A00000001" and data["assurance"]["card_auth_id"].startswith("CA-")
    assert data["liveness"]["passed"] is True and data["liveness"]["challenge"] == "mouth_open_x3"
    assert data["liveness"]["duration_ms"] > 0
    assert [p["role"] for p in payload["pictures"]] == ["liveness_1", "liveness_2", "liveness_3", "liveness_4"]
    receipt = k.sims.printer.receipts[-1]
    assert receipts.text("zh_CN", "receipt.result.passed") in receipt.text and WANG not in receipt.text
    assert_sealed(k, picture, WANG)
    finish(k, card=True)


def test_pension_certification_by_typed_id_and_pinyin_name(make_kiosk):
    k = make_kiosk("en", (1080, 1920), KIOSK_CAMERA=FAST)
    k.tap("tile-pension_auth")
    k.screen("identify")
    k.tap("choice-face")
    type_id_and_name(k, WANG, WANG_PINYIN, shots="pension-typed")
    k.screen("residence")
    both(k, "pension-typed-residence")
    k.tap("choice-local")
    picture = face_check(k, "pension-typed")
    confirm = k.screen("confirm", timeout=30)
    both(k, "pension-typed-confirm")
    k.tap("submit")
    result = k.screen("result", timeout=40)
    both(k, "pension-typed-result")
    payload = stored(k, result.reference)
    assert payload["citizen"]["id_number"] == WANG
    assert payload["data"]["assurance"]["method"] == "face_match"
    assert len(payload["pictures"]) == 4
    assert_sealed(k, picture, WANG)
    assert confirm.shown("certify.fact.face") == k.ui.t("certify.face_match")
    finish(k, card=False)


def test_family_member_certified_by_the_relative_face(make_kiosk):
    k = make_kiosk("zh_CN", (1920, 1080), KIOSK_CAMERA=FAST)
    k.tap("tile-family_auth")
    k.screen("identify")
    k.tap("choice-card")
    card_login(k, "answers_61xx", QIAN_PIN)
    members = k.screen("family_members", timeout=30)
    both(k, "family-members")
    assert len(members.choices) == 1
    k.tap("choice-0")
    k.screen("residence")
    k.tap("choice-local")
    picture = face_check(k, "family")
    confirm = k.screen("confirm", timeout=30)
    both(k, "family-confirm")
    assert confirm.shown("certify.fact.relation") == k.ui.t("relation.mother")  # 周桂兰: the sex digit says mother
    k.tap("submit")
    result = k.screen("result", timeout=40)
    both(k, "family-result")
    payload = stored(k, result.reference)
    assert payload["kind"] == "pension_certification"
    assert payload["citizen"]["id_number"] == ZHOU
    data = payload["data"]
    assert data["on_behalf_of"] == {"relation": "parent", "operator": {"id_number": QIAN, "name": "钱多多"}}
    assert data["assurance"]["method"] == "face_match"  # the relative's face matched her photo
    assert len(payload["pictures"]) == 4
    assert_sealed(k, picture, ZHOU, QIAN)
    finish(k, card=True)


def test_annual_review_by_typed_identity(make_kiosk):
    k = make_kiosk("en", (1080, 1920), KIOSK_CAMERA=FAST)
    k.tap("tile-annual_review")
    k.screen("identify")
    k.tap("choice-face")
    type_id_and_name(k, ZHOU, ZHOU_PINYIN)
    k.screen("residence")
    k.tap("choice-abroad")
    picture = face_check(k)
    k.screen("confirm", timeout=30)
    both(k, "annual-confirm")
    k.tap("submit")
    result = k.screen("result", timeout=40)
    both(k, "annual-result")
    payload = stored(k, result.reference)
    assert payload["kind"] == "annual_review" and payload["citizen"]["id_number"] == ZHOU
    assert payload["data"]["residence"] == "abroad" and len(payload["pictures"]) == 4
    assert_sealed(k, picture, ZHOU)
    finish(k, card=False)


def test_a_still_photo_is_referred_to_the_counter_after_three_attempts(make_kiosk):
    k = make_kiosk("zh_CN", (1920, 1080), KIOSK_CAMERA="synthetic:still,realtime=0")
    before = len(k.sims.submissions())
    k.tap("tile-pension_auth")
    k.tap("choice-face")
    type_id_and_name(k, WANG, WANG_PINYIN)
    k.tap("choice-local")
    k.screen("consent")
    k.tap("consent_agree")
    for attempt in (1, 2):
        retry = k.screen("liveness_retry", timeout=60)
        assert retry.fields["left"] == 3 - attempt
        if attempt == 1:
            both(k, "liveness-retry")
        k.tap("retry")
        assert k.ui.screen.name == "liveness" and k.ui.screen.attempt == attempt + 1
    k.until(lambda: getattr(k.ui.screen, "heading", "") == "liveness.referred.title", 60, "referred")
    both(k, "liveness-referred")
    assert len(k.sims.submissions()) == before  # nothing was submitted
    k.tap("home")
    k.screen("home")


def test_balances_through_face_identification(make_kiosk):
    k = make_kiosk("zh_CN", (1080, 1920), KIOSK_CAMERA=FAST)
    k.tap("tile-balances")
    k.screen("identify")
    k.tap("choice-face")
    type_id_and_name(k, WANG, WANG_PINYIN, shots="face-id")
    face_check(k, "face-id")
    result = k.screen("result", timeout=40)
    both(k, "face-id-balances")
    labels = [label for label, _v in result.facts]
    assert "balance.pension_total" in labels and "balance.medical" in labels
    finish(k, card=False)


def test_certification_made_offline_is_queued_and_the_receipt_says_the_result_follows(make_kiosk, faults):
    k = make_kiosk("zh_CN", (1920, 1080), KIOSK_CAMERA=FAST)
    k.tap("tile-pension_auth")
    k.tap("choice-card")
    card_login(k, "activated", WANG_PIN)
    k.screen("residence", timeout=20)
    k.tap("choice-local")
    faults(drop_rate=1.0)  # the bureau goes away before the face match
    picture = face_check(k)
    confirm = k.screen("confirm", timeout=60)
    assert confirm.shown("certify.fact.face") == k.ui.t("certify.face_pending")
    assert not k.ui.health["bureau"].usable  # the online indicator agrees with "compared later", at once
    both(k, "offline-confirm")
    k.tap("submit")
    result = k.screen("result", timeout=40)
    both(k, "offline-result")
    assert result.heading == "certify.done.pension_auth_queued" and result.body == "certify.done.queued_body"
    paper = "".join(k.sims.printer.receipts[-1].text.split())  # the printer wraps long lines
    assert "".join(receipts.text("zh_CN", "receipt.note.queued").split()) in paper  # the result follows
    assert receipts.text("zh_CN", "receipt.result.queued") in paper
    assert_sealed(k, picture, WANG)
    faults(drop_rate=0)
    payload = stored(k, result.reference)
    assert payload["data"]["assurance"]["method"] == "card_pin" and len(payload["pictures"]) == 4
    finish(k, card=True)


GUIDANCE = [("move_closer", "scale=0.45"), ("move_back", "scale=2.0"), ("centre_face", "dx=0.3"),
            ("face_camera", "roll=35"), ("hold_still", "shake=40"), ("too_dark", "dark"), ("no_face", "noface"),
            ("several_faces", "twofaces")]


@pytest.mark.parametrize("lang,size", [("zh_CN", (1920, 1080)), ("en", (1080, 1920))])
def test_liveness_screen_at_each_guidance_state(make_kiosk, lang, size):
    """The real pipeline's guidance for each placement of the synthetic subject, screenshotted."""
    k = make_kiosk(lang, size, KIOSK_CAMERA=FAST)
    ui = k.ui
    seen = {}
    for key, option in [*GUIDANCE, ("ok", "genuine")]:
        realtime = key == "ok"  # the cue must stay up long enough to be photographed
        camera = SyntheticCameraAdapter(SyntheticCamera(**{**parse_spec(f"synthetic:{option}"),
                                                            "realtime": realtime}))
        ui.services.devices.camera = camera
        ui.sessions.begin(ui.clock.monotonic())
        check = ui.desk.liveness_check()  # what a flow's CheckLiveness step carries and its work runs
        ui.workers.submit("liveness", check.run, session=ui.sessions.current().token)
        screen = LivenessScreen(ui, check)
        ui.show(screen)
        k.until(lambda s=screen, want=key: s.guidance == want, 30, f"guidance {key}")
        seen[key] = screen.instruction
        both(k, f"liveness-{key}")
        if key == "ok":
            k.until(lambda s=screen: s.cue_active, 30, "the cue")
            both(k, "liveness-cue")
            assert screen.instruction == "liveness.cue"
        ui.go_home("cancel")
        deadline = time.monotonic() + 10
        while screen.check.frame() is not None and time.monotonic() < deadline:
            k.frame()
            time.sleep(0.02)
        camera.close()
    assert seen == {key: f"liveness.guidance.{key}" for key, _o in GUIDANCE} | {"ok": "liveness.get_ready"}


def test_declined_consent_takes_no_picture_and_another_face_is_not_matched(make_kiosk):
    k = make_kiosk("zh_CN", (1920, 1080), KIOSK_CAMERA="synthetic:astronaut,realtime=0")
    camera = k.ui.services.devices.camera.camera  # the simulator behind the adapter
    before = len(k.sims.submissions())
    k.tap("tile-balances")
    k.tap("choice-face")
    type_id_and_name(k, WANG, WANG_PINYIN)
    k.screen("consent")
    k.tap("consent_decline")
    message = k.screen("result")
    assert message.heading == "consent.declined.title" and camera.frames_made == 0
    both(k, "consent-declined")
    k.tap("home")
    k.screen("home")
    k.tap("tile-balances")  # the astronaut's face for 王秀英's number: the bureau says no_match
    k.tap("choice-face")
    type_id_and_name(k, WANG, WANG_PINYIN)
    face_check(k)
    message = k.until(lambda: k.ui.screen.name == "message", 40, "the verdict") or k.ui.screen
    assert message.heading == "face.no_match.title"
    both(k, "face-no-match")
    assert all(b.name != "retry" for b in message.buttons)  # the counter, not another try
    assert len(k.sims.submissions()) == before
