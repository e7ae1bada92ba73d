"""The resident ID card on the screens: pension qualification authentication from home to the
result in at most 8 taps (placing a card is not a tap), against the ID card reader simulator on a
pseudo-terminal, the synthetic camera, the bureau and the printer; a pulled card and a corrupt
frame each say so and offer a retry."""

from __future__ import annotations

import pytest

from tests.e2e.test_face_flows import FAST, stored

WANG = "110105195803120029"


@pytest.fixture
def idcard():
    from simulators.idcard import IdCardReaderSim

    sim = IdCardReaderSim().start()
    yield sim
    sim.close()


class Taps:
    """Counts the citizen's touches."""

    def __init__(self, k) -> None:
        self.k, self.n = k, 0

    def __call__(self, name: str) -> None:
        self.n += 1
        self.k.tap(name)


def both(k, name: str) -> None:
    k.shot(f"idcard-{name}")
    first = k.ui.lang
    k.ui.set_language("en" if first == "zh_CN" else "zh_CN")
    k.shot(f"idcard-{name}")
    k.ui.set_language(first)


def test_pension_authentication_with_the_id_card_in_at_most_8_taps(make_kiosk, idcard):
    k = make_kiosk("zh_CN", KIOSK_CAMERA=FAST, KIOSK_IDCARD=f"serial:{idcard.device}")
    k.until(lambda: k.ui.health.get("idcard") is not None and k.ui.health["idcard"].usable, 20, "ID card reader")
    tap = Taps(k)
    tap("tile-pension_auth")
    ways = k.screen("identify")
    assert [c.value for c in ways.choices] == ["idcard", "card", "ecard", "face"]  # typing last
    both(k, "identify")
    tap("choice-idcard")
    k.screen("place_idcard")
    both(k, "place")
    idcard.insert("wang")  # placing the card is not a tap
    k.screen("residence", timeout=20)
    tap("choice-local")
    k.screen("consent")
    tap("consent_agree")
    k.screen("pictures", timeout=90)
    tap("use_pictures")
    confirm = k.screen("confirm", timeout=40)
    assert confirm.shown("certify.fact.id") == "1101**********0029"
    both(k, "review")
    tap("submit")
    result = k.screen("result", timeout=40)
    both(k, "result")
    assert tap.n <= 8, f"{tap.n} taps from home to the result"
    assert result.kind == "ok"
    payload = stored(k, result.reference)
    assert payload["citizen"]["id_number"] == WANG and payload["data"]["assurance"]["method"] == "face_match"


@pytest.mark.parametrize("fault,title", [("pull", "idcard.error.removed.title"),
                                         ("corrupt", "idcard.error.unreadable.title")])
def test_a_pulled_card_or_a_corrupt_frame_says_so_and_offers_a_retry(make_kiosk, idcard, fault, title):
    k = make_kiosk("zh_CN", KIOSK_CAMERA=FAST, KIOSK_IDCARD=f"serial:{idcard.device}")
    k.until(lambda: k.ui.health.get("idcard") is not None and k.ui.health["idcard"].usable, 20, "ID card reader")
    k.tap("tile-balances")
    k.screen("identify")
    idcard.insert("wang")
    idcard.fault(fault)
    k.tap("choice-idcard")
    k.until(lambda: getattr(k.ui.screen, "heading", "") == title, 30, title)
    both(k, f"error-{fault}")
    assert [b.name for b in k.ui._tap_targets()].count("home") == 1  # not in the body and the footer both
    idcard.insert("wang")  # the citizen puts it back (a pulled card is gone from the pad)
    k.tap("retry")  # read again: the fault was one-shot
    k.screen("consent", timeout=30)
