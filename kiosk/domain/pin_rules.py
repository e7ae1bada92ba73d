"""Rules a chosen PIN must pass, shared by the citizen card PIN and the technician PIN: pure
functions on the digits, no I/O. Each answers the first reason it refuses, or None. The one
place these rules live: kiosk/card/pin.py only encodes PINs for the card."""

from __future__ import annotations

import itertools

# PINs people pick first; each is refused even where the pattern rules would let it pass.
WELL_KNOWN = frozenset({
    "123123", "112233", "121212", "520520", "521521", "131313", "147258", "159357", "123321",
    "654321", "123654", "111222", "101010", "202020", "110110", "123456", "000000", "111111",
    "888888", "666666", "168168", "518518", "147852", "258369", "123789", "987654", "012345",
    "1234567", "12345678", "123456789", "1234567890", "11223344", "12341234", "88888888",
    "20082008", "19491001",
})


def all_equal(pin: str) -> bool:
    return len(set(pin)) == 1


def straight_run(pin: str) -> bool:
    """Every digit one up (123456, 890123 wrapping 9 to 0) or one down from the one before."""
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    return steps in ({1}, {9})


def repeated_block(pin: str) -> bool:
    """The same short block again and again: 121212, 123123, 12341234."""
    n = len(pin)
    return any(n % size == 0 and pin[:size] * (n // size) == pin for size in range(1, n // 2 + 1))


def pattern_problem(pin: str) -> str | None:
    """all_equal | straight_run | well_known | repeated_block, or None."""
    if all_equal(pin):
        return "all_equal"
    if straight_run(pin):
        return "straight_run"
    if pin in WELL_KNOWN:
        return "well_known"
    if repeated_block(pin):
        return "repeated_block"
    return None


CARD_PIN_LENGTH = 6


def card_pin_problem(pin: str, id_number: str = "", length: int = CARD_PIN_LENGTH) -> str | None:
    """The first reason a citizen's new card PIN is refused, as a message key (pin.problem.*):
    format | all_equal | straight_run | well_known | repeated_block | in_id_number; None if fine."""
    if not (len(pin) == length and pin.isascii() and pin.isdigit()):
        return "pin.problem.format"
    reason = pattern_problem(pin)
    if reason:
        return f"pin.problem.{reason}"
    if id_number and pin in id_number.upper():
        return "pin.problem.in_id_number"
    return None


TECHNICIAN_MESSAGES = {
    "format": "a technician PIN has 6 to 12 digits",
    "all_equal": "a technician PIN may not be one digit repeated (like 000000)",
    "straight_run": "a technician PIN may not be a straight run (like 123456 or 654321)",
    "well_known": "that technician PIN is one of the first ones anybody tries",
    "repeated_block": "a technician PIN may not repeat a short block (like 121212 or 123123)",
}


def technician_pin_problem(pin: str) -> str | None:
    """One line for the technician saying why this PIN is refused; None when it is acceptable."""
    if not (pin.isascii() and pin.isdigit() and 6 <= len(pin) <= 12):
        return TECHNICIAN_MESSAGES["format"]
    reason = pattern_problem(pin)
    return TECHNICIAN_MESSAGES[reason] if reason else None
