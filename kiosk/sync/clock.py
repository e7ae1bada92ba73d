"""What the sync layer knows about time: this boot's identity and whether the wall clock is trusted.

A Pi has no battery clock, so wall time may be wrong until chrony synchronises it; retry timing
uses the monotonic clock, which only means something within one boot.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import re
import time
import uuid
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
