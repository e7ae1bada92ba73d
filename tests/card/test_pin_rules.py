"""One set of PIN rules (kiosk/domain/pin_rules.py) for the card and the technician: the card
journeys' new_pin_problem is the domain's rule, and every refusal it can give has a message in
both languages, so a citizen never sees a message id."""

from __future__ import annotations

import pytest

from kiosk.card.pin import new_pin_problem, pin_bcd
from kiosk.domain import pin_rules
from kiosk.i18n import LANGUAGES, catalog

REFUSED = {"pin.problem.format": "12a456", "pin.problem.all_equal": "777777",
           "pin.problem.straight_run": "345678", "pin.problem.well_known": "168168",
           "pin.problem.repeated_block": "373737", "pin.problem.in_id_number": "519491"}


def test_the_card_journeys_use_the_domain_rule():
    assert new_pin_problem is pin_rules.card_pin_problem


@pytest.mark.parametrize("key,pin", sorted(REFUSED.items()))
def test_every_refusal_has_a_message_in_every_language(key, pin):
    assert pin_rules.card_pin_problem(pin, "11010519491231002X") == key
    for lang in LANGUAGES:
        assert catalog(lang).get(key), f"{key} has no {lang} message"


def test_every_pattern_the_domain_refuses_is_covered_above():
    """A rule added to the domain must get a message too (and a line in REFUSED)."""
    reasons = {key.removeprefix("pin.problem.") for key in REFUSED}
    assert set(pin_rules.TECHNICIAN_MESSAGES) - {"format"} <= reasons


def test_a_technician_pin_obeys_the_same_patterns_with_its_own_length():
    assert pin_rules.technician_pin_problem("373737373737") == pin_rules.TECHNICIAN_MESSAGES["repeated_block"]
    assert pin_rules.technician_pin_problem("80251497") is None
    assert pin_rules.card_pin_problem("80251497") == "pin.problem.format"  # a card PIN is six digits


def test_an_accepted_pin_is_what_goes_to_the_card():
    assert new_pin_problem("802514") is None
    assert pin_bcd("802514") == bytes.fromhex("802514")
