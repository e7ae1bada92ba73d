"""Reading a QR code with the kiosk's camera, where no barcode scanner is fitted: frames from the
Camera port, decoded with zxing-cpp, the first text that looks like an e-card token returned.

Blocking (a frame is decoded in ~10 ms on a desktop, a few times that on a Pi): it runs in a Work
step on a worker thread, never on the UI loop, and stops at its timeout or when cancelled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

TOKEN_PREFIX = "ESSC1."
MAX_TOKEN_CHARS = 512  # the bureau's ECardToken maxLength


def looks_like_token(text: str) -> bool:
    """An e-card token by its form only (`ESSC1.` and printable ASCII, not too long): the kiosk
    never parses or checks one; the bureau judges it."""
    return (text.startswith(TOKEN_PREFIX) and len(text) <= MAX_TOKEN_CHARS and text.isascii()
            and text.isprintable())


def decode_qr(rgb: np.ndarray) -> list[str]:
    """The texts of the QR codes in one RGB frame (grey is what the decoder looks at)."""
    import zxingcpp

    grey = np.ascontiguousarray(rgb[..., 1]) if rgb.ndim == 3 else rgb  # green: most of the luma
    found = zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return [b.text for b in found if b.valid]


class QrScan:
    """The outcome of one camera scan: the token, or why none (timeout, cancelled), with what
    else was seen (QR codes that are not e-card tokens) and how many frames were decoded."""

    def __init__(self, token: str | None, frames: int, others: int, cancelled: bool) -> None:
        self.token, self.frames, self.others, self.cancelled = token, frames, others, cancelled

    def __repr__(self) -> str:  # never the token: it is a credential until the bureau has used it
        return (f"<QrScan found={self.token is not None} frames={self.frames} others={self.others} "
                f"cancelled={self.cancelled}>")


class QrCameraReader:
    """Reads e-card QR codes from a Camera (anything with frames())."""

    def __init__(self, camera: Any, accept: Callable[[str], bool] = looks_like_token,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.camera, self.accept, self.clock = camera, accept, clock
        # the frame being decoded, for the screen's preview (the citizen aims the phone by it);
        # None outside a scan: a picture of the citizen is not kept after it
        self.latest: np.ndarray | None = None

    def scan(self, timeout_s: float, cancel: threading.Event | None = None) -> QrScan:
        """Decode frames until one holds an accepted code (returned), timeout_s passes or
        `cancel` is set. Blocking: call it from a worker."""
        deadline = self.clock() + timeout_s
        frames = others = 0
        stream = self.camera.frames()
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    return self._done(None, frames, others, True)
                if self.clock() >= deadline:
                    return self._done(None, frames, others, False)
                frame = next(stream)
                frames += 1
                self.latest = frame.rgb
                for text in decode_qr(frame.rgb):
                    if self.accept(text):
                        return self._done(text, frames, others, False)
                    others += 1
        except StopIteration:  # the camera stopped giving frames (closed)
            return self._done(None, frames, others, False)
        finally:
            self.latest = None
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _done(token: str | None, frames: int, others: int, cancelled: bool) -> QrScan:
        outcome = QrScan(token, frames, others, cancelled)
        log.info("event=qr_camera_scan found=%d frames=%d others=%d cancelled=%d", token is not None, frames,
                 others, cancelled)
        return outcome
