"""Card reader adapter on pyscard's PC/SC layer (pcscd): typed errors, bounded exchanges.

pyscard is imported lazily so the package imports on machines without pcsc-lite. Every call
that may touch the card runs in a worker thread and is abandoned when it overruns (PC/SC
itself has no transmit timeout); an abandoned session is reset in the background.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from kiosk.hw import iso7816
from kiosk.hw.bounded import BoundedWorker
from kiosk.hw.errors import (
    CardMute,
    CardRemoved,
    ExchangeTimeout,
    PcscUnavailable,
    ReaderError,
    ReaderGone,
)
from kiosk.hw.health import DeviceHealth
from kiosk.hw.pcsc_api import describe, error_class
from kiosk.hw.pcsc_api import scard as _scard

if TYPE_CHECKING:
    from kiosk.config import Config

log = logging.getLogger(__name__)
T = TypeVar("T")

POLL_SLICE_S = 0.5  # longest single wait inside pcscd, so a stopped daemon is noticed quickly
HEALTH_CACHE_S = 1.0
REMOVAL_SETTLE_S = 0.6  # pcscd polls card presence every 400 ms


class PcscReader:
    """The kiosk's card reader over PC/SC. `transmit` opens a card session on first use;
    `end_session` resets the card so the next citizen starts from a clean state."""

    name = "reader"

    def __init__(self, reader_name: str = "", exclude: str = "", exchange_timeout_s: float = 5.0) -> None:
        self.reader_filter = reader_name  # substring of the reader name; "" = first reader
        self.exclude = exclude  # substring of a reader never used here (the PSAM slot)
        self.exchange_timeout_s = exchange_timeout_s
        self._lock = threading.RLock()  # the card session
        self._mon_lock = threading.RLock()  # presence and health: never waits for a card
        self._mon_ctx: int | None = None  # presence and health: never blocked by a card
        self._ctx: int | None = None  # the card session's context
        self._card: int | None = None
        self._proto = 0
        self._atr: bytes | None = None
        self._reader: str | None = None
        self._worker: BoundedWorker | None = None
        self._health: tuple[float, DeviceHealth] | None = None

    def __repr__(self) -> str:
        return (f"<PcscReader reader={self._reader or self.reader_filter or 'auto'!r} "
                f"session={'open' if self._card is not None else 'none'} "
                f"timeout_s={self.exchange_timeout_s}>")

    def __enter__(self) -> PcscReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- contexts and errors
    def _establish(self) -> int:
        sc = _scard()
        hresult, ctx = sc.SCardEstablishContext(sc.SCARD_SCOPE_USER)
        if hresult != sc.SCARD_S_SUCCESS:
            raise self._error(hresult, "establish")
        return ctx

    def _monitor(self) -> int:
        if self._mon_ctx is None:
            self._mon_ctx = self._establish()
        return self._mon_ctx

    def _drop_contexts(self) -> None:
        """pcscd went away: forget every handle (releasing them would fail or block)."""
        if self._mon_ctx is not None or self._ctx is not None:
            log.info("event=pcsc_contexts_dropped")
        self._mon_ctx = self._ctx = self._card = None
        self._atr = None

    def _error(self, hresult: int, what: str) -> ReaderError:
        sc = _scard()
        kind = error_class(sc, hresult, in_session=self._card is not None)
        if kind is PcscUnavailable:
            self._drop_contexts()
        return kind(describe(sc, hresult, what))

    def _retrying(self, fn: Callable[[], T]) -> T:
        """Run fn once more on fresh contexts if pcscd was restarted under us (stale handle)."""
        try:
            return fn()
        except PcscUnavailable:
            return fn()  # establishes new contexts; raises again if pcscd is really down

    # --- readers and presence
    def readers(self) -> list[str]:
        def list_() -> list[str]:
            sc = _scard()
            hresult, names = sc.SCardListReaders(self._monitor(), [])
            if hresult == sc.SCARD_E_NO_READERS_AVAILABLE:
                return []
            if hresult != sc.SCARD_S_SUCCESS:
                raise self._error(hresult, "list readers")
            return list(names)

        with self._mon_lock:
            return self._retrying(list_)

    def _pick_reader(self) -> str:
        names = [n for n in self.readers() if not (self.exclude and self.exclude in n)]
        match = [n for n in names if self.reader_filter in n]
        if not match:
            raise ReaderGone(f"no reader matching {self.reader_filter!r} among {names}")
        return match[0]

    def _state(self, timeout_s: float, current: int) -> tuple[str, int]:
        sc = _scard()
        reader = self._pick_reader()
        ms = max(0, int(timeout_s * 1000))
        hresult, states = sc.SCardGetStatusChange(self._monitor(), ms, [(reader, current)])
        if hresult == sc.SCARD_E_TIMEOUT:
            return reader, current
        if hresult != sc.SCARD_S_SUCCESS:
            raise self._error(hresult, "status")
        return reader, states[0][1] & ~sc.SCARD_STATE_CHANGED

    def card_present(self) -> bool:
        sc = _scard()
        with self._mon_lock:
            _, state = self._retrying(lambda: self._state(0, sc.SCARD_STATE_UNAWARE))
        return bool(state & sc.SCARD_STATE_PRESENT)

    def _wait(self, present: bool, timeout_s: float) -> bool:
        sc = _scard()
        deadline = time.monotonic() + timeout_s
        current = sc.SCARD_STATE_UNAWARE
        while True:
            def poll(known: int = current) -> tuple[str, int]:  # the time left counted on each try
                return self._state(min(POLL_SLICE_S, max(0.0, deadline - time.monotonic())), known)

            with self._mon_lock:
                _, current = self._retrying(poll)
            if bool(current & sc.SCARD_STATE_PRESENT) == present:
                return True
            if time.monotonic() >= deadline:
                return False

    def wait_for_card(self, timeout_s: float) -> bool:
        """True once a card is in the reader; False after timeout_s. Raises when pcscd or the
        reader is gone, so the caller can show why and try again."""
        return self._wait(True, timeout_s)

    def wait_for_removal(self, timeout_s: float) -> bool:
        return self._wait(False, timeout_s)

    # --- card session
    def _bounded(self, fn: Callable[[], T], what: str) -> T:
        if self._worker is None:
            self._worker = BoundedWorker("pcsc-exchange")
        try:
            return self._worker.call(fn, self.exchange_timeout_s)
        except cf.TimeoutError:
            self._abandon(what)
            raise ExchangeTimeout(f"{what} took longer than {self.exchange_timeout_s:g} s") from None

    def _abandon(self, what: str) -> None:
        """Leave the hung worker and its session behind; reset the card once it lets go."""
        sc = _scard()
        ctx, card = self._ctx, self._card
        hung = self._worker.current if self._worker else None
        self._worker = None
        self._ctx = self._card = None
        self._atr = None
        log.warning("event=exchange_timeout what=%s timeout_s=%g action=reset_card", what, self.exchange_timeout_s)

        def reset_later() -> None:
            # Touch the handle only after the hung call returned (card pulled, reader or pcscd
            # gone): pcsc-lite's client waits for a busy context while holding its global lock,
            # which would stall every other PC/SC call of this process.
            if hung is not None:
                cf.wait([hung])
            if card is not None:
                hresult, _ = sc.SCardReconnect(card, sc.SCARD_SHARE_SHARED, self._protocols(), sc.SCARD_RESET_CARD)
                log.info("event=abandoned_card_reset result=0x%08X", hresult & 0xFFFFFFFF)
                sc.SCardDisconnect(card, sc.SCARD_RESET_CARD)
            if ctx is not None:
                sc.SCardReleaseContext(ctx)

        threading.Thread(target=reset_later, name="pcsc-reset", daemon=True).start()

    def _protocols(self) -> int:
        sc = _scard()
        return sc.SCARD_PROTOCOL_T0 | sc.SCARD_PROTOCOL_T1

    def connect(self) -> bytes:
        """Open a card session (T=0 or T=1, whichever the card offers); returns the ATR."""
        with self._lock:
            if self._card is not None and self._atr is not None:
                return self._atr
            return self._retrying(self._connect)

    def _connect(self) -> bytes:
        sc = _scard()
        reader = self._pick_reader()
        if self._ctx is None:
            self._ctx = self._establish()
        ctx = self._ctx

        def do() -> tuple[int, int, int]:
            return sc.SCardConnect(ctx, reader, sc.SCARD_SHARE_SHARED, self._protocols())

        hresult, card, proto = self._bounded(do, "connect")
        if hresult != sc.SCARD_S_SUCCESS:
            raise self._error(hresult, "connect")
        hresult, _, _, _, atr = self._bounded(lambda: sc.SCardStatus(card), "status")
        if hresult != sc.SCARD_S_SUCCESS:
            raise self._error(hresult, "card status")
        self._card, self._proto, self._atr, self._reader = card, proto, bytes(atr), reader
        log.info("event=card_session_open reader=%s protocol=%s atr=%s", reader,
                 "T1" if proto == sc.SCARD_PROTOCOL_T1 else "T0", self._atr.hex())
        return self._atr

    @property
    def atr(self) -> bytes | None:
        return self._atr

    def _raw(self, apdu: bytes) -> tuple[bytes, int]:
        sc = _scard()
        card, proto = self._card, self._proto
        if card is None:  # the session ended between two exchanges of one command
            raise CardRemoved("transmit: no card session")
        hresult, resp = self._bounded(lambda: sc.SCardTransmit(card, proto, list(apdu)), "transmit")
        if hresult != sc.SCARD_S_SUCCESS:
            err = self._error(hresult, "transmit")
            if type(err) is ReaderError and hresult in (sc.SCARD_E_NOT_TRANSACTED, sc.SCARD_F_COMM_ERROR):
                # vpcd answers a closed socket with a failed exchange: tell removal from mute.
                err = CardRemoved(str(err)) if self._gone_quietly() else CardMute(str(err))
            if isinstance(err, (CardRemoved, CardMute, PcscUnavailable)):
                self._forget_session()
            raise err
        if len(resp) < 2:
            # vpcd reports a card pulled mid-exchange as an empty reply, not as an error.
            detail = f"transmit: reply of {len(resp)} bytes"
            err = CardRemoved(detail) if self._gone_quietly() else CardMute(detail)
            self._forget_session()
            raise err
        log.debug("event=apdu ins=%02X sw=%02X%02X len=%d", apdu[1] if len(apdu) > 1 else 0,
                  resp[-2], resp[-1], len(resp) - 2)
        return bytes(resp[:-2]), (resp[-2] << 8) | resp[-1]

    def _gone_quietly(self) -> bool:
        """Was the card pulled? pcscd notices on its next poll, so allow it one poll period."""
        try:
            return self.wait_for_removal(REMOVAL_SETTLE_S)
        except ReaderError:
            return True

    def _forget_session(self) -> None:
        sc = _scard()
        card, self._card, self._atr = self._card, None, None
        if card is not None:
            try:
                sc.SCardDisconnect(card, sc.SCARD_LEAVE_CARD)
            except Exception:  # the handle may already be dead; nothing to keep
                pass

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """One command, with 61xx/6Cxx resolved; (data, sw). Raises typed ReaderErrors."""
        with self._lock:
            if self._card is None:
                self._retrying(self._connect)
            return iso7816.complete(self._raw, apdu)

    def reset(self) -> bytes:
        """Warm reset of the card (clears its security state); returns the ATR."""
        sc = _scard()
        with self._lock:
            if self._card is None:
                return self.connect()
            card = self._card
            hresult, proto = self._bounded(
                lambda: sc.SCardReconnect(card, sc.SCARD_SHARE_SHARED, self._protocols(), sc.SCARD_RESET_CARD),
                "reset")
            if hresult != sc.SCARD_S_SUCCESS:
                err = self._error(hresult, "reset")
                self._forget_session()
                raise err
            self._proto = proto
            return self._atr or b""

    def end_session(self) -> None:
        """Disconnect and reset the card: the next session never inherits a verified PIN."""
        with self._lock:
            card, self._card, self._atr = self._card, None, None
            if card is not None:
                sc = _scard()
                try:
                    self._bounded(lambda: sc.SCardDisconnect(card, sc.SCARD_RESET_CARD), "disconnect")
                except (ExchangeTimeout, ReaderError):
                    pass

    # --- device
    def health(self) -> DeviceHealth:
        now = time.monotonic()
        if self._health and now - self._health[0] < HEALTH_CACHE_S:
            return self._health[1]
        try:
            with self._mon_lock:
                reader = self._retrying(self._pick_reader)
            result = DeviceHealth.ok(reader)
        except PcscUnavailable as exc:
            result = DeviceHealth.offline(exc.reason, str(exc))
        except ReaderError as exc:
            result = DeviceHealth.offline(ReaderGone.reason, str(exc))
        self._health = (now, result)
        return result

    def close(self) -> None:
        self.end_session()
        with self._lock:
            for ctx in (self._ctx, self._mon_ctx):
                if ctx is not None:
                    _scard().SCardReleaseContext(ctx)
            self._ctx = self._mon_ctx = None
            if self._worker is not None:
                self._worker.stop()
                self._worker = None


# vpcd's two slots under `devices.reader = sim`: the card emulator, then the PSAM emulator.
SIM_CARD_SLOT = "Virtual PCD 00 00"
SIM_PSAM_SLOT = "Virtual PCD 00 01"


def open_reader(spec: str, cfg: Config) -> PcscReader:
    """Registry factory for devices.reader = pcsc | sim. An empty card.reader_name is the first
    reader (sim: vpcd's card slot); the PSAM's slot is never used for citizens' cards."""
    sim = spec == "sim"
    return PcscReader(cfg["card.reader_name"] or (SIM_CARD_SLOT if sim else ""),
                      exclude=_psam_slot(cfg, sim), exchange_timeout_s=cfg["card.exchange_timeout_s"])


def open_psam_reader(cfg: Config, sim: bool = False) -> PcscReader | None:
    """The security module's slot, or None when none is configured (sim: vpcd's second slot)."""
    name = _psam_slot(cfg, sim)
    return PcscReader(name, exchange_timeout_s=cfg["card.exchange_timeout_s"]) if name else None


def _psam_slot(cfg: Config, sim: bool) -> str:
    name: str = cfg["card.psam_reader_name"]
    return name or (SIM_PSAM_SLOT if sim else "")
