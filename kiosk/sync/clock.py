"""What the sync layer knows about time: this boot's identity and whether the wall clock is trusted.

A Pi has no battery clock, so wall time may be wrong until chrony synchronises it; retry timing
uses the monotonic clock, which only means something within one boot.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as _dt
import functools
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

_BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
# The units run with ProcSubset=pid, which hides the file above: they pass systemd's %b instead.
BOOT_ID_ENV = "KIOSK_BOOT_ID"
_BOOT_ID = re.compile(r"^[0-9a-f]{32}$")
_TIME_ERROR = 5  # adjtimex(2): "clock not synchronised"
_STA_UNSYNC = 0x0040


def boot_id() -> str:
    """The kernel's random id of this boot, as 32 lowercase hex digits.

    Read from $KIOSK_BOOT_ID first (the units set it to %b: under ProcSubset=pid /proc/sys is
    not there), then from /proc. Both spell the same number (%b without dashes), so either source
    names one boot once. With neither, a fresh id: every process start then counts as a boot,
    which makes retries come due early and lets a UI start take back a live daemon's rows, so
    it is logged as a warning.
    """
    for raw in (os.environ.get(BOOT_ID_ENV, ""), _read_proc_boot_id()):
        value = raw.strip().replace("-", "").lower()
        if _BOOT_ID.match(value):
            return value
    log.warning("event=boot_id_unknown env=%s file=%s", BOOT_ID_ENV, _BOOT_ID_FILE)
    return "nobootid-" + uuid.uuid4().hex


def _read_proc_boot_id() -> str:
    try:
        return _BOOT_ID_FILE.read_text()
    except OSError:
        return ""


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (64-bit longs); only mode and status are read.
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long),
                ("tolerance", ctypes.c_long), ("time_sec", ctypes.c_long),
                ("time_usec", ctypes.c_long), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long),
                ("jitter", ctypes.c_long), ("shift", ctypes.c_int), ("stabil", ctypes.c_long),
                ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long),
                ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int), ("pad", ctypes.c_int * 11)]


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    # find_library runs ldconfig in a subprocess: once per process, not once per submission.
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def clock_synchronised() -> bool:
    """True when the kernel says an NTP daemon (chrony) has disciplined the clock.

    Same test as `timedatectl`'s NTPSynchronized: adjtimex() read-only, STA_UNSYNC clear.
    Anything unexpected counts as not synchronised: a wrong "unsynchronised" flag costs only a
    remark in the heartbeat, a wrong "synchronised" one could judge a card expired.
    """
    try:
        tx = _Timex()
        rc = _libc().adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError):
        return False
    return rc not in (-1, _TIME_ERROR) and not tx.status & _STA_UNSYNC


def monotonic() -> float:
    return time.monotonic()


def wall() -> float:
    return time.time()


# How far the wall clock may be from the bureau's server_time and still be trusted. The ack's
# timestamp has whole seconds and the request may take up to sync.request_timeout_s; chrony keeps
# a synchronised clock within milliseconds. Two minutes is far outside both and far inside what
# matters here (card expiry is judged by the day, receipts by the minute).
CLOCK_TOLERANCE_S = 120.0


class ClockCheck:
    """Whether the wall clock may be believed: chrony says synchronised AND the bureau's
    server_time (heartbeat answer) agreed with it, and the clock has not been stepped since.

    Before the first comparison nothing is trusted: chrony could have been steered by an
    unauthenticated source. A step after the comparison is seen as a change of (wall - monotonic)
    and ends the trust until the next heartbeat compares again.
    """

    def __init__(self, wall: Callable[[], float] | None = None,
                 monotonic: Callable[[], float] | None = None,
                 synchronised: Callable[[], bool] | None = None,
                 tolerance_s: float = CLOCK_TOLERANCE_S) -> None:
        self._wall = wall or _current_wall
        self._mono = monotonic or _current_monotonic
        self._synced = synchronised or _current_synchronised
        self.tolerance_s = tolerance_s
        self.offset_s: float | None = None  # bureau minus kiosk at the last comparison
        self._anchor: float | None = None  # wall - monotonic at the last comparison

    def __repr__(self) -> str:
        return f"<ClockCheck offset_s={self.offset_s} trusted={self.trusted()}>"

    def observe(self, server_time: str, sent_wall: float, received_wall: float) -> float | None:
        """Compare with the bureau's clock; the offset in seconds, None when unreadable."""
        try:
            server = _dt.datetime.fromisoformat(server_time.replace("Z", "+00:00"))
            if server.tzinfo is None:
                return None
        except (AttributeError, TypeError, ValueError):
            return None
        offset = server.timestamp() - (sent_wall + received_wall) / 2
        if not math.isfinite(offset):
            return None
        was = self.trusted()
        self.offset_s, self._anchor = offset, self._wall() - self._mono()
        now = self.trusted()
        if abs(offset) > self.tolerance_s:
            log.warning("event=clock_untrusted offset_s=%.0f tolerance_s=%.0f", offset,
                        self.tolerance_s)
        elif now != was:
            log.info("event=clock_trusted offset_s=%.1f synchronised=%s", offset, self._synced())
        return offset

    def trusted(self) -> bool:
        if self.offset_s is None or self._anchor is None or abs(self.offset_s) > self.tolerance_s:
            return False
        stepped = abs((self._wall() - self._mono()) - self._anchor)
        return stepped <= self.tolerance_s and self._synced()


# Looked up at each call, so tests move time through this module's functions.
def _current_wall() -> float:
    return wall()


def _current_monotonic() -> float:
    return monotonic()


def _current_synchronised() -> bool:
    return clock_synchronised()
