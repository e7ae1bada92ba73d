"""Typed card-reader errors: each carries a message key the UI translates and a technician detail."""

from __future__ import annotations


class ReaderError(Exception):
    """Base of every reader failure; `reason` is a message key, str() a one-line detail."""

    reason = "health.reader.error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.reason)
        self.detail = detail


class PcscUnavailable(ReaderError):
    """pcscd is not running (stopped, restarting, not installed)."""

    reason = "health.reader.pcscd_down"


class ReaderGone(ReaderError):
    """The card reader is not connected (unplugged, or its driver entry removed)."""

    reason = "health.reader.no_reader"


class NoCard(ReaderError):
    """An exchange was asked for while no card is in the reader."""

    reason = "card.no_card"


class CardRemoved(ReaderError):
    """The card left the reader during or between exchanges of one session."""

    reason = "card.removed"


class CardMute(ReaderError):
    """A card is there but gives no usable ATR or does not answer at all."""

    reason = "card.mute"


class ExchangeTimeout(ReaderError):
    """One exchange did not finish in time; it was abandoned and the card is being reset."""

    reason = "card.timeout"


class ReaderUnavailable(ReaderGone):
    """No reader was opened at start-up (none fitted, driver missing, failed to open): the
    registry's stand-in was asked for a card. `reason` is the stand-in's health key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail)
        self.reason = reason
