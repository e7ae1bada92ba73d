"""Sign in by the e-card's QR code on the screens: the phone held to the camera (no scanner at this
kiosk), the bureau checking the token behind the sync daemon; a used code refused in plain words."""

from __future__ import annotations

from tests.e2e.test_face_flows import FAST

QIAN = "610113197410120092"


def both(k, name: str) -> None:
    k.shot(f"ecard-{name}")
    first = k.ui.lang
    k.ui.set_language("en" if first == "zh_CN" else "zh_CN")
    k.shot(f"ecard-{name}")
    k.ui.set_language(first)


def test_balances_after_signing_in_with_the_e_card_qr_code(make_kiosk):
    k = make_kiosk("zh_CN", KIOSK_CAMERA=FAST)
    k.sims.bureau.admin("POST", "/ecard/reset", {})
    camera = k.ui.desk.camera
    try:
        k.tap("tile-balances")
        ways = k.screen("identify")
        assert "ecard" in [c.value for c in ways.choices]
        k.tap("choice-ecard")
        k.screen("scan_qr")
        both(k, "scan")
        token = k.sims.bureau.admin("POST", "/ecard/tokens", {"id_number": QIAN})["token"]
        camera.show_qr(token)  # the citizen holds up the phone
        result = k.screen("result", timeout=40)
        both(k, "balances")
        assert result.heading == "balance.title"
        k.tap("another")  # still signed in: the next query asks nothing again
        k.tap("tile-application_progress")
        k.until(lambda: k.ui.screen.name in ("result", "progress"), 30, "the answer")
        k.ui.go_home("finish")
        k.tap("tile-balances")
        k.tap("choice-ecard")
        k.until(lambda: getattr(k.ui.screen, "heading", "") == "ecard.error.token_used.title", 40, "used code")
        both(k, "used")
        camera.show_qr(k.sims.bureau.admin("POST", "/ecard/tokens", {"id_number": QIAN})["token"])
        k.tap("retry")  # a fresh code on the phone, scanned anew
        k.screen("result", timeout=40)
    finally:
        camera.show_qr(None)
        k.sims.bureau.admin("POST", "/ecard/reset", {})
