"""Card-level errors: what kind of card this is and how a PIN operation ended.

Each has a `reason` message key for the UI; transport failures stay the reader's own errors
(kiosk.hw.errors: CardRemoved, PcscUnavailable, ...).
"""

from __future__ import annotations

import datetime as dt


class CardError(Exception):
    reason = "card.error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.reason)
        self.detail = detail


class NotSscCard(CardError):
    """The card has no social security application (and no bank application we know)."""

    reason = "card.not_ssc"


class BankOnlyCard(NotSscCard):
    """A bank (debit) card: the bank application answers, the SSC application is missing."""

    reason = "card.bank_only"


class MuteCard(CardError):
    """A card is in the reader but gives no usable answer."""

    reason = "card.mute"


class CardExpired(CardError):
    """Past its expiry date; raised only when the kiosk's clock is trusted."""

    reason = "card.expired"

    def __init__(self, expiry: dt.date) -> None:
        super().__init__(f"expired on {expiry.isoformat()}")
        self.expiry = expiry


class MalformedReply(CardError):
    """A reply too short, of the wrong shape, or with an unexpected status word."""

    reason = "card.malformed"


class PinFormatError(CardError, ValueError):
    """The PIN given is not 6 digits (a caller bug or a keypad fault, never sent to the card)."""

    reason = "pin.problem.format"


class WrongPin(CardError):
    reason = "pin.wrong"

    def __init__(self, retries_left: int, retry_limit: int | None = None) -> None:
        super().__init__(f"wrong PIN, {retries_left} tries left")
        self.retries_left = retries_left
        self.retry_limit = retry_limit


class PinBlocked(CardError):
    """Never retryable at the kiosk: the citizen goes to a service counter."""

    reason = "pin.blocked"

    def __init__(self, retries: int = 0) -> None:
        super().__init__("PIN blocked")
        self.retries = retries


class TerminalAuthFailed(CardError):
    """The card refused the security module's cryptogram: no PIN was written."""

    reason = "card.terminal_auth_failed"


class CardNotGenuine(CardError):
    """The card could not prove it holds its issuer key (INTERNAL AUTHENTICATE refused by the PSAM
    or the bureau): a forged or cloned card. Never retryable at the kiosk."""

    reason = "card.not_genuine"


class SecurityModuleError(CardError):
    """The PSAM is missing or refused to compute a cryptogram."""

    reason = "card.security_module"
