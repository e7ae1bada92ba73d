"""PIN values: BCD encoding for the card and the rules a new PIN must pass (message keys)."""

from __future__ import annotations

import itertools

from kiosk.card.codec import encode_bcd
from kiosk.card.errors import PinFormatError

PIN_LENGTH = 6


def pin_bcd(pin: str, length: int = PIN_LENGTH) -> bytes:
    """Six digits -> three BCD bytes; anything else is refused before it reaches the card."""
    if len(pin) != length or not pin.isascii() or not pin.isdigit():
        raise PinFormatError(f"PIN must be {length} digits")
    return encode_bcd(pin)


def new_pin_problem(pin: str, id_number: str = "", length: int = PIN_LENGTH) -> str | None:
    """The first reason a new PIN is refused, as a message key; None if it is acceptable."""
    if len(pin) != length or not pin.isascii() or not pin.isdigit():
        return "pin.problem.format"
    if len(set(pin)) == 1:
        return "pin.problem.all_equal"
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if steps in ({1}, {-1}):
        return "pin.problem.straight_run"
    if id_number and pin in id_number.upper():
        return "pin.problem.in_id_number"
    return None
