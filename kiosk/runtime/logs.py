"""Logging for journald: one line per event, key=value fields, personal data masked."""

from __future__ import annotations

import logging
import sys
import time

from kiosk.domain.masking import scrub


class MaskingFormatter(logging.Formatter):
    """Formats `level=.. logger=.. event=..` lines and masks ID-like numbers as a last line of defence."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line = f"level={record.levelname.lower()} logger={record.name} {message}"
        if record.exc_info:
            line += " traceback=" + repr(self.formatException(record.exc_info))
        return scrub(line)


def setup(level: str = "info", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(MaskingFormatter())
    root = logging.getLogger("kiosk")
    root.handlers[:] = [handler, RING]
    root.setLevel(level.upper())
    root.propagate = False


class RingHandler(logging.Handler):
    """Keeps the last lines in memory for the maintenance menu's log page (journald keeps the rest)."""

    def __init__(self, capacity: int = 500) -> None:
        super().__init__()
        from collections import deque

        self.lines: deque[tuple[int, str]] = deque(maxlen=capacity)
        self.setFormatter(MaskingFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # journald stamps its own lines; the menu's copy carries the time itself (local time)
            when = time.strftime("%m-%d %H:%M:%S", time.localtime(record.created))
            self.lines.append((record.levelno, f"{when}  {self.format(record)}"))
        except Exception:  # logging must never take the kiosk down
            self.handleError(record)

    def tail(self, min_level: int = logging.DEBUG, limit: int = 300) -> list[str]:
        return [line for level, line in list(self.lines) if level >= min_level][-limit:]


RING = RingHandler()
logging.getLogger("kiosk").addHandler(RING)
