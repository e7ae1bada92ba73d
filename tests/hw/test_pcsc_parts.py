"""The parts of the PC/SC reader adapter that need no pcscd: PC/SC result codes sorted into reader
errors, a pcscd restart survived by a fresh context, the bounded call worker, and the registry
factories' choice of slots (tests/card drives the whole adapter through the real stack)."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from pathlib import Path

import pytest

from kiosk import config
from kiosk.hw import errors, pcsc_api, reader_pcsc
from kiosk.hw.bounded import BoundedWorker


class FakeScard:
    """A stand-in for smartcard.scard: distinct codes, one reader, and a pcscd that can restart."""

    SCARD_S_SUCCESS = 0
    SCARD_SCOPE_USER = 0
    SCARD_SHARE_SHARED = 2
    SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1 = 1, 2
    SCARD_LEAVE_CARD, SCARD_RESET_CARD = 0, 1
    SCARD_STATE_UNAWARE, SCARD_STATE_CHANGED, SCARD_STATE_PRESENT = 0, 2, 0x20
    (SCARD_E_TIMEOUT, SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED, SCARD_E_INVALID_HANDLE,
     SCARD_E_UNKNOWN_READER, SCARD_E_READER_UNAVAILABLE, SCARD_E_NO_READERS_AVAILABLE,
     SCARD_E_NO_SMARTCARD, SCARD_E_PROTO_MISMATCH, SCARD_E_NOT_TRANSACTED, SCARD_F_COMM_ERROR,
     SCARD_W_REMOVED_CARD, SCARD_W_RESET_CARD, SCARD_W_UNRESPONSIVE_CARD, SCARD_W_UNPOWERED_CARD,
     SCARD_W_UNSUPPORTED_CARD) = range(0x100, 0x110)

    def __init__(self) -> None:
        self.contexts: list[int] = []
        self.live: set[int] = set()
        self.card_in = True

    def restart_pcscd(self) -> None:
        self.live.clear()  # every handle of the old daemon is now invalid

    def SCardEstablishContext(self, scope):
        ctx = 100 + len(self.contexts)
        self.contexts.append(ctx)
        self.live.add(ctx)
        return self.SCARD_S_SUCCESS, ctx

    def SCardReleaseContext(self, ctx):
        self.live.discard(ctx)
        return self.SCARD_S_SUCCESS

    def SCardListReaders(self, ctx, groups):
        if ctx not in self.live:
            return self.SCARD_E_INVALID_HANDLE, []
        return self.SCARD_S_SUCCESS, ["Virtual PCD 00 00", "Virtual PCD 00 01"]

    def SCardGetStatusChange(self, ctx, timeout_ms, states):
        if ctx not in self.live:
            return self.SCARD_E_INVALID_HANDLE, []
        state = self.SCARD_STATE_PRESENT if self.card_in else 0
        return self.SCARD_S_SUCCESS, [(states[0][0], state | self.SCARD_STATE_CHANGED, [])]

    def SCardGetErrorMessage(self, result):
        return f"code {result:#x}\n"


@pytest.fixture
def sc(monkeypatch: pytest.MonkeyPatch) -> FakeScard:
    fake = FakeScard()
    monkeypatch.setattr(reader_pcsc, "_scard", lambda: fake)
    return fake


@pytest.mark.parametrize("code,in_session,kind", [
    ("SCARD_E_NO_SERVICE", False, errors.PcscUnavailable),
    ("SCARD_E_INVALID_HANDLE", True, errors.PcscUnavailable),
    ("SCARD_E_UNKNOWN_READER", False, errors.ReaderGone),
    ("SCARD_E_NO_READERS_AVAILABLE", False, errors.ReaderGone),
    ("SCARD_W_REMOVED_CARD", True, errors.CardRemoved),
    ("SCARD_W_REMOVED_CARD", False, errors.NoCard),
    ("SCARD_E_NO_SMARTCARD", False, errors.NoCard),
    ("SCARD_W_UNRESPONSIVE_CARD", True, errors.CardMute),
    ("SCARD_E_PROTO_MISMATCH", False, errors.CardMute),
    ("SCARD_F_COMM_ERROR", True, errors.ReaderError),
])
def test_pcsc_codes_become_the_reader_errors_the_ui_explains(code, in_session, kind):
    fake = FakeScard()
    assert pcsc_api.error_class(fake, getattr(fake, code), in_session) is kind


def test_an_error_names_the_call_pcsc_s_words_and_the_code():
    fake = FakeScard()
    assert pcsc_api.describe(fake, fake.SCARD_E_NO_SERVICE, "list readers") == "list readers: code 0x101 (0x00000101)"


def test_a_restarted_pcscd_is_met_with_a_fresh_context_once(sc):
    """GIVEN a reader that has asked pcscd once WHEN pcscd restarts (its handles die)
    THEN the next question establishes a new context and is answered; nothing is raised."""
    reader = reader_pcsc.PcscReader("Virtual PCD 00 00")
    assert reader.card_present() is True
    sc.restart_pcscd()
    sc.card_in = False
    assert reader.card_present() is False
    assert len(sc.contexts) == 2
    assert reader.health().usable


def test_a_pcscd_that_stays_down_is_reported_not_retried_forever(sc, monkeypatch):
    reader = reader_pcsc.PcscReader("Virtual PCD 00 00")
    monkeypatch.setattr(sc, "SCardEstablishContext", lambda scope: (sc.SCARD_E_NO_SERVICE, 0))
    with pytest.raises(errors.PcscUnavailable, match="establish"):
        reader.card_present()
    health = reader.health()
    assert not health.usable and health.reason == "health.reader.pcscd_down"


def test_the_reader_never_picks_the_psam_slot(sc):
    reader = reader_pcsc.PcscReader("Virtual PCD", exclude="00 01")
    assert reader.health().detail == "Virtual PCD 00 00"
    psam_only = reader_pcsc.PcscReader("00 01", exclude="00 01")
    with pytest.raises(errors.ReaderGone):
        psam_only.card_present()


def test_the_bounded_worker_answers_raises_and_abandons_an_overrun():
    worker = BoundedWorker("test-bounded")
    assert worker.call(lambda: 42, 1.0) == 42
    with pytest.raises(ZeroDivisionError):
        worker.call(lambda: 1 // 0, 1.0)
    release = threading.Event()
    with pytest.raises(cf.TimeoutError):
        worker.call(lambda: release.wait(5), 0.1)
    assert worker.abandoned
    hung = worker.current
    assert hung is not None and not hung.done()
    release.set()  # the driver lets go at last: the hung call finishes, the thread ends
    assert hung.result(timeout=2) is True
    fresh = BoundedWorker("test-bounded-2")
    start = time.monotonic()
    assert fresh.call(lambda: "ok", 1.0) == "ok" and time.monotonic() - start < 1.0
    fresh.stop()


def _cfg(tmp_path: Path, **values: str) -> config.Config:
    return config.load(None, environ={}, overrides={"kiosk.data_dir": str(tmp_path), **values})


def test_sim_slots_are_vpcd_s_card_then_psam_unless_configured(tmp_path):
    cfg = _cfg(tmp_path)
    reader = reader_pcsc.open_reader("sim", cfg)
    assert (reader.reader_filter, reader.exclude) == ("Virtual PCD 00 00", "Virtual PCD 00 01")
    psam = reader_pcsc.open_psam_reader(cfg, sim=True)
    assert psam is not None and psam.reader_filter == "Virtual PCD 00 01"
    assert reader_pcsc.open_psam_reader(cfg, sim=False) is None  # a real kiosk without a PSAM
    named = _cfg(tmp_path, **{"card.reader_name": "ACS", "card.psam_reader_name": "SAM slot"})
    real = reader_pcsc.open_reader("pcsc", named)
    assert (real.reader_filter, real.exclude) == ("ACS", "SAM slot")
    named_psam = reader_pcsc.open_psam_reader(named)
    assert named_psam is not None and named_psam.reader_filter == "SAM slot"
