"""PIN values for the card: six digits in BCD. Which new PINs are refused is a domain rule
(kiosk/domain/pin_rules.py), re-exported here under the name the card journeys use."""

from __future__ import annotations

from kiosk.card.codec import encode_bcd
from kiosk.card.errors import PinFormatError
from kiosk.domain.pin_rules import CARD_PIN_LENGTH as PIN_LENGTH
from kiosk.domain.pin_rules import card_pin_problem as new_pin_problem

__all__ = ["PIN_LENGTH", "new_pin_problem", "pin_bcd"]


def pin_bcd(pin: str, length: int = PIN_LENGTH) -> bytes:
    """Six digits -> three BCD bytes; anything else is refused before it reaches the card."""
    if len(pin) != length or not pin.isascii() or not pin.isdigit():
        raise PinFormatError(f"PIN must be {length} digits")
    return encode_bcd(pin)
