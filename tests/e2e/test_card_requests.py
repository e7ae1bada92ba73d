"""Requests that start from the face: report a card lost, apply for a card, reset a forgotten PIN
(face check, then the card, then a PSAM-authorised reload), end to end on every simulator."""

from __future__ import annotations

import zxingcpp
from PIL import Image

from tests.e2e.test_face_flows import (
    FAST,
    WANG,
    WANG_PINYIN,
    ZHOU,
    ZHOU_PINYIN,
    face_check,
    finish,
    stored,
    type_id_and_name,
)


def test_report_lost_by_face_reaches_the_bureau_with_a_receipt(make_kiosk):
    k = make_kiosk("zh_CN", KIOSK_CAMERA=FAST)
    k.tap("tile-report_lost")
    type_id_and_name(k, WANG, WANG_PINYIN)
    face_check(k)
    confirm = k.screen("confirm_loss", timeout=40)
    assert confirm.body == "lost.confirm.undated"  # the kiosk's clock is not trusted here: no date
    k.shot("lost-confirm")
    k.tap("yes")
    result = k.screen("result", timeout=40)
    k.shot("lost-done")
    payload = stored(k, result.reference)
    assert payload["kind"] == "card_loss_report"
    assert payload["data"]["loss_type"] == "temporary" and payload["data"]["assurance"]["method"] == "face_match"
    receipt = k.sims.printer.receipts[-1]
    assert [c.text for c in zxingcpp.read_barcodes(Image.open(receipt.png))] == [result.reference]
    finish(k, card=False)


def test_apply_for_a_card_with_outlet_photo_and_phone(make_kiosk):
    k = make_kiosk("en", KIOSK_CAMERA=FAST + ",scale=0.8")  # the ID window must fit around the face
    k.ui.services.sync.call("refresh_reference", 10)  # the outlet list, as the daemon caches it
    k.tap("tile-apply_card")
    type_id_and_name(k, ZHOU, ZHOU_PINYIN)
    face_check(k)
    picker = k.screen("pick_outlet", timeout=40)
    k.shot("apply-outlet")
    k.tap(f"choice-{picker.choices[0].value}")
    k.screen("pick_reason")
    k.tap("choice-replacement")
    photo = k.screen("id_photo")
    k.until(lambda: photo.latest is not None, 10, "preview")
    k.shot("apply-photo")
    k.tap("take-photo")
    k.until(lambda: not photo.checking, 20, "photo check")
    k.shot("apply-photo-refused")
    assert not photo.accepted and "photo.problem.busy_background" in photo.problems  # the flag behind her
    # She stands in front of the plain screen the hall provides, and retakes.
    from tests.test_id_photo import on_plain_background

    actor = k.ui.services.devices.camera.camera.actors[0]  # the simulator behind the adapter
    actor.photo = on_plain_background("grace_hopper")
    actor.work = actor.photo.rgb.copy()
    seen = {id(photo.latest)}
    k.until(lambda: len(seen | {id(photo.latest)}) > 3 or seen.add(id(photo.latest)), 10, "fresh frames")
    k.tap("take-photo")
    k.until(lambda: not photo.checking, 20, "photo check")
    assert photo.accepted, photo.problems
    k.shot("apply-photo-accepted")
    k.tap("use-photo")
    k.screen("phone")
    k.type("13812345678")
    k.tap("confirm")
    k.screen("confirm_apply")
    k.shot("apply-confirm")
    k.tap("yes")
    result = k.screen("result", timeout=40)
    payload = stored(k, result.reference)
    assert payload["kind"] == "card_application" and payload["data"]["reason"] == "replacement"
    assert len(payload["pictures"]) == 1 and payload["pictures"][0]["role"] == "card_photo"
    finish(k, card=False)


def test_reset_forgotten_pin_after_the_face_check(make_kiosk):
    k = make_kiosk("zh_CN", KIOSK_CAMERA=FAST)
    k.tap("tile-reset_pin")
    type_id_and_name(k, WANG, WANG_PINYIN)
    face_check(k)
    k.sims.card.ctl("INSERT activated")
    k.until(lambda: k.ui.screen.name == "pin_entry" and k.ui.screen.title_key == "card.new_pin.title", 40, "new PIN")
    for _ in range(2):
        k.type("307519")
        k.tap("confirm")
        k.frame()
    result = k.screen("result", timeout=40)
    k.shot("reset-done")
    assert "307519" in k.sims.card.ctl("PIN activated")
    payload = stored(k, result.reference)
    assert payload["kind"] == "pin_reset" and payload["data"]["card_number"] == "A00000001"
    finish(k, card=True)
