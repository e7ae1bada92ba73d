"""Logging for journald: one line per event, key=value fields, personal data masked."""

from __future__ import annotations

import logging
import sys

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
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
