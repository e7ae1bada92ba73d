"""Typed resident ID card (二代身份证) reader errors: each carries a message key the UI translates
and a technician detail that never holds personal data."""

from __future__ import annotations


class IdCardError(Exception):
    """Base of every ID card reader failure; `reason` is a message key, str() a one-line detail."""

    reason = "idcard.error.unreadable"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.reason)
        self.detail = detail


class NoIdCard(IdCardError):
    """No ID card on the reader (none placed in time, or the reader found none)."""

    reason = "idcard.error.no_card"


class IdCardRemoved(IdCardError):
    """The card was found, then left the reader before its data was read."""

    reason = "idcard.error.removed"


class IdCardUnreadable(IdCardError):
    """A card is there but what came back cannot be trusted: a corrupt or short frame, an
    unexpected status, or a text block that fails its checks (bad date, bad check character)."""

    reason = "idcard.error.unreadable"


class IdCardReaderFault(IdCardError):
    """The reader itself: not connected, not answering, or refusing our commands."""

    reason = "idcard.error.reader"


class SamUnavailable(IdCardReaderFault):
    """The reader's security module (SAM) is missing, failed its self-test or is not authorised:
    no card can be read until a technician fixes it."""

    reason = "idcard.error.sam"


class IdCardReaderUnavailable(IdCardReaderFault):
    """No ID card reader was opened at start-up (none fitted, failed to open): `reason` is the
    registry stand-in's health key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail)
        self.reason = reason
