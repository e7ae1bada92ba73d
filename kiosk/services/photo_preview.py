"""The camera's live picture for the ID photo screen: a background reader keeps the latest frame
(15 a second is plenty to aim by); stop() ends it and forgets the frame (a picture of the citizen)."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class CameraPreview:
    def __init__(self, camera: Any, fps: float = 15.0) -> None:
        self.camera, self.period = camera, 1.0 / fps
        self._latest: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> CameraPreview:
        if self._thread is None:
            self._thread = threading.Thread(target=self._pump, name="photo-preview", daemon=True)
            self._thread.start()
        return self

    def _pump(self) -> None:
        try:
            for frame in self.camera.frames():
                if self._stop.is_set():
                    break
                self._latest = frame.rgb
                self._stop.wait(self.period)
        except Exception as exc:  # a camera that fails shows up in its health; say so here too
            log.warning("event=photo_preview_failed error=%r", exc)

    def latest(self) -> Any:
        """The newest RGB frame, or None before the first one (and after stop)."""
        return self._latest

    def stop(self) -> None:
        self._stop.set()
        self._latest = None

    def __repr__(self) -> str:
        return f"<CameraPreview running={self._thread is not None and not self._stop.is_set()}>"
