"""pyscard's PC/SC layer (smartcard.scard) as the reader adapter uses it: typed, imported lazily,
and its result codes sorted into the kiosk's reader errors.

pyscard ships no type information; `Scard` writes down the calls and constants the adapter relies
on, so mypy checks every use of them.
"""

from __future__ import annotations

from typing import Protocol

from kiosk.hw.errors import CardMute, CardRemoved, NoCard, PcscUnavailable, ReaderError, ReaderGone

ReaderState = tuple[str, int]  # (reader name, the state the caller knows)
ReaderStateAnswer = tuple[str, int, list[int]]  # (reader name, event state, ATR)


class Scard(Protocol):
    """The subset of smartcard.scard the reader adapter calls. Handles are ints; every call
    answers its PC/SC result code first."""

    SCARD_S_SUCCESS: int
    SCARD_SCOPE_USER: int
    SCARD_SHARE_SHARED: int
    SCARD_PROTOCOL_T0: int
    SCARD_PROTOCOL_T1: int
    SCARD_LEAVE_CARD: int
    SCARD_RESET_CARD: int
    SCARD_STATE_UNAWARE: int
    SCARD_STATE_CHANGED: int
    SCARD_STATE_PRESENT: int
    SCARD_E_TIMEOUT: int
    SCARD_E_NO_SERVICE: int
    SCARD_E_SERVICE_STOPPED: int
    SCARD_E_INVALID_HANDLE: int
    SCARD_E_UNKNOWN_READER: int
    SCARD_E_READER_UNAVAILABLE: int
    SCARD_E_NO_READERS_AVAILABLE: int
    SCARD_E_NO_SMARTCARD: int
    SCARD_E_PROTO_MISMATCH: int
    SCARD_E_NOT_TRANSACTED: int
    SCARD_F_COMM_ERROR: int
    SCARD_W_REMOVED_CARD: int
    SCARD_W_RESET_CARD: int
    SCARD_W_UNRESPONSIVE_CARD: int
    SCARD_W_UNPOWERED_CARD: int
    SCARD_W_UNSUPPORTED_CARD: int

    def SCardEstablishContext(self, scope: int) -> tuple[int, int]: ...

    def SCardReleaseContext(self, context: int) -> int: ...

    def SCardListReaders(self, context: int, groups: list[str]) -> tuple[int, list[str]]: ...

    def SCardGetStatusChange(
        self, context: int, timeout_ms: int, states: list[ReaderState]
    ) -> tuple[int, list[ReaderStateAnswer]]: ...

    def SCardConnect(
        self, context: int, reader: str, share: int, protocols: int
    ) -> tuple[int, int, int]: ...  # (result, card handle, active protocol)

    def SCardReconnect(
        self, card: int, share: int, protocols: int, initialization: int
    ) -> tuple[int, int]: ...  # (result, active protocol)

    def SCardStatus(self, card: int) -> tuple[int, str, int, int, list[int]]: ...  # (..., ATR)

    def SCardTransmit(self, card: int, protocol: int, apdu: list[int]) -> tuple[int, list[int]]: ...

    def SCardDisconnect(self, card: int, disposition: int) -> int: ...

    def SCardGetErrorMessage(self, result: int) -> str: ...


def scard() -> Scard:
    """smartcard.scard, imported on first use (it needs libpcsclite at run time)."""
    try:
        from smartcard import scard as module
    except ImportError as exc:
        raise PcscUnavailable(f"pyscard unavailable: {exc}") from None
    api: Scard = module
    return api


def error_class(sc: Scard, result: int, in_session: bool) -> type[ReaderError]:
    """Which reader error a failed PC/SC call means. in_session: a card session was open, so a
    missing card was removed rather than never there."""
    if result in (sc.SCARD_E_NO_SERVICE, sc.SCARD_E_SERVICE_STOPPED, sc.SCARD_E_INVALID_HANDLE):
        return PcscUnavailable
    if result in (sc.SCARD_E_UNKNOWN_READER, sc.SCARD_E_READER_UNAVAILABLE, sc.SCARD_E_NO_READERS_AVAILABLE):
        return ReaderGone
    if result in (sc.SCARD_W_REMOVED_CARD, sc.SCARD_E_NO_SMARTCARD, sc.SCARD_W_RESET_CARD):
        return CardRemoved if in_session else NoCard
    if result in (sc.SCARD_W_UNRESPONSIVE_CARD, sc.SCARD_W_UNPOWERED_CARD, sc.SCARD_E_PROTO_MISMATCH,
                  sc.SCARD_W_UNSUPPORTED_CARD):
        return CardMute
    return ReaderError


def describe(sc: Scard, result: int, what: str) -> str:
    """One line for the technician: the call, PC/SC's own words and the code."""
    return f"{what}: {sc.SCardGetErrorMessage(result).strip()} (0x{result & 0xFFFFFFFF:08X})"
