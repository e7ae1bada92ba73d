"""Typed barcode scanner errors: each carries a message key the UI translates and a technician
detail that never holds the scanned text (an e-card token is a credential until it is used)."""

from __future__ import annotations


class ScannerError(Exception):
    """Base of every barcode scanner failure; `reason` is a message key, str() a one-line detail."""

    reason = "scanner.error.fault"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.reason)
        self.detail = detail


class ScanRejected(ScannerError):
    """A line came from the scanner but is not a code the kiosk takes: longer than the bound,
    holding control bytes, or not UTF-8. `why` is too_long | non_printable | not_utf8."""

    reason = "scanner.error.rejected"

    def __init__(self, why: str, detail: str = "") -> None:
        super().__init__(detail or why)
        self.why = why


class ScannerFault(ScannerError):
    """The scanner itself: its serial line failed (unplugged) or none could be opened."""

    reason = "scanner.error.fault"
