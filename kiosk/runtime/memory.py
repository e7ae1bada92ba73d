"""Giving memory back to the system after a citizen session (the Pi's 1 GB is shared)."""

from __future__ import annotations

from typing import Any


def malloc_trim() -> int:
    """Hand the C heap's free pages back to the system (glibc's malloc_trim): a session's
    surfaces, frames and decoded pictures leave free pages between live blocks that glibc keeps
    for itself otherwise, and the Pi's 1 GB is shared with the sync daemon and the journal.
    1 when memory was released, 0 when none was, -1 without glibc."""
    global _trim
    if _trim is None:
        import ctypes
        import ctypes.util

        try:
            _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _trim = False
    return int(_trim(0)) if _trim else -1


_trim: Any = None

