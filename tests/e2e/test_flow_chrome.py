"""What every flow gets from the flow layer, on screen: the step indicator, back where it is safe,
"another service" that keeps the citizen identified (a card while the same card stays in the
reader, a face for the session), and results that say done, accepted-pending or failed. Each
screen is saved in both languages."""

from __future__ import annotations

import pytest

from tests.e2e.test_face_flows import FAST, WANG, WANG_PINYIN, face_check, type_id_and_name

WANG_CARD = ("activated", "258147")


def both(k, name: str) -> None:
    k.shot(f"chrome-{name}")
    first = k.ui.lang
    k.ui.set_language("en" if first == "zh_CN" else "zh_CN")
    k.shot(f"chrome-{name}")
    k.ui.set_language(first)


def bar(k) -> list[str]:
    k.frame()
    return [b.name for b in k.ui.bar_buttons]


def card_login(k, persona: str, pin: str) -> None:
    k.sims.card.ctl(f"INSERT {persona}")
    k.until(lambda: k.ui.screen.name in ("identify", "pin_entry"), 20, "identification")
    if k.ui.screen.name == "identify":
        k.tap("choice-card")
    k.screen("pin_entry")
    k.type(pin)
    k.tap("confirm")


def test_the_same_card_serves_another_service_without_its_pin_again(make_kiosk):
    """GIVEN 王秀英 identified by card and PIN for her balances WHEN she chooses another service
    with her card still in the reader THEN the contributions query starts at its first question,
    with back and the step indicator, and no PIN is asked again."""
    k = make_kiosk()
    k.tap("tile-balances")
    identify = k.screen("identify")
    assert identify.flow_indicator == (1, 2) and "back" not in bar(k)  # nothing to go back to yet
    both(k, "identify")
    card_login(k, *WANG_CARD)
    k.screen("result", timeout=30)
    assert "another" in bar(k)
    both(k, "result-another")
    k.tap("another")
    k.screen("home")
    assert k.ui.sessions.session is not None  # still her session: she is still identified
    k.tap("tile-payment_records")
    insurance = k.screen("pick_insurance", timeout=20)
    assert insurance.flow_indicator == (2, 4)
    assert "back" not in bar(k)  # identification is behind her: back never returns to the PIN
    k.tap("choice-pension")
    year = k.screen("pick_year")
    assert year.flow_indicator == (3, 4) and "back" in bar(k)
    both(k, "back-and-step")
    k.tap("back")
    k.screen("pick_insurance")
    k.tap("home")
    k.screen("home")
    assert k.ui.sessions.session is None  # home ends the session: the identity goes with it


def test_a_card_taken_out_is_not_an_identity_for_the_next_service(make_kiosk):
    k = make_kiosk()
    k.tap("tile-balances")
    card_login(k, *WANG_CARD)
    k.screen("result", timeout=30)
    k.tap("another")
    k.screen("home")
    k.sims.card.ctl("REMOVE")
    k.tap("tile-pension_received")
    k.until(lambda: k.ui.screen.name in ("identify", "insert_card"), 30, "identification asked again")


@pytest.mark.parametrize("lang", ["zh_CN"])
def test_a_face_identity_serves_the_session(make_kiosk, lang):
    """Identified by the face for one query, the citizen gets the next one without a second check."""
    k = make_kiosk(lang, KIOSK_CAMERA=FAST)
    k.tap("tile-balances")
    k.screen("identify")
    k.tap("choice-face")
    type_id_and_name(k, WANG, WANG_PINYIN)
    face_check(k)
    k.screen("result", timeout=40)
    k.tap("another")
    k.screen("home")
    k.tap("tile-application_progress")
    k.until(lambda: k.ui.screen.name in ("result", "progress"), 30, "the answer, with no second face check")
    assert "another" in bar(k)


def test_a_flow_is_one_screen_deep_and_its_result_follows_the_language(make_kiosk):
    """Each step replaces the one before (nothing of an earlier step stays on the stack), and a
    result built in Chinese is built again in English when the citizen switches."""
    k = make_kiosk()
    k.tap("tile-balances")
    card_login(k, *WANG_CARD)
    result = k.screen("result", timeout=30)
    assert [s.name for s in k.ui.stack] == ["home", "result"]
    months = dict(result.facts)["balance.pension_months"]
    assert months.endswith("个月")
    k.ui.set_language("en")
    k.frame()
    assert k.ui.screen is not result
    assert dict(k.ui.screen.facts)["balance.pension_months"] == months.replace("个月", " months")
