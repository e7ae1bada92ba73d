"""Raspberry Pi camera adapter (picamera2 from the OS packages; the venv uses system site packages).

picamera2 is imported only when the camera is opened; on a machine without it `open_camera` raises
PicameraUnavailable, which the device registry reports as an offline camera.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kiosk.hw.health import DeviceHealth
from kiosk.hw.ports import Frame

if TYPE_CHECKING:
    from kiosk.config import Config

log = logging.getLogger(__name__)

MAX_CAPTURE_FAILURES = 10


class PicameraUnavailable(Exception):
    """No picamera2 library or no camera module attached."""


class PiCamera:
    name = "camera"

    def __init__(self, picam: Any, size: tuple[int, int]) -> None:
        self._cam, self.size = picam, size
        self._closed = threading.Event()
        self._failures = 0
        self.frames_read = 0

    def frames(self) -> Iterator[Frame]:
        while not self._closed.is_set():
            try:
                # "RGB888" is stored B, G, R in memory (libcamera's naming); flip to RGB.
                arr = self._cam.capture_array("main")
            except Exception as exc:
                self._failures += 1
                log.warning("event=camera_capture_failed error=%r", exc)
                if self._failures >= MAX_CAPTURE_FAILURES:
                    return
                time.sleep(0.05)
                continue
            self._failures = 0
            self.frames_read += 1
            yield Frame(arr[:, :, 2::-1].copy(), time.monotonic())

    def cue(self, event: object) -> None:
        """A real camera films whoever is there; what the screen asks of them changes nothing here."""

    def health(self) -> DeviceHealth:
        if self._closed.is_set():
            return DeviceHealth.offline("health.camera.offline", "closed")
        if self._failures >= MAX_CAPTURE_FAILURES:
            return DeviceHealth.offline("health.camera.offline", "capture keeps failing")
        if self._failures:
            return DeviceHealth.degraded("health.camera.unstable", f"{self._failures} failed captures")
        return DeviceHealth.ok(f"picamera2 {self.size[0]}x{self.size[1]}")

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            try:
                self._cam.stop()
                self._cam.close()
            except Exception as exc:
                log.warning("event=camera_close_failed error=%r", exc)

    def __enter__(self) -> PiCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PiCamera {self.size[0]}x{self.size[1]} frames={self.frames_read} closed={self._closed.is_set()}>"


def open_camera(spec: str = "picamera2", cfg: Config | None = None,
                size: tuple[int, int] = (640, 480)) -> PiCamera:
    try:
        from picamera2 import Picamera2
    except ImportError as exc:
        raise PicameraUnavailable("picamera2 is not installed (not a Raspberry Pi OS image?): "
                                  "apt install python3-picamera2, or set devices.camera=opencv:0") from exc
    try:
        if not Picamera2.global_camera_info():
            raise PicameraUnavailable("no camera module detected (check the ribbon cable)")
        cam = Picamera2()
        cam.configure(cam.create_video_configuration(main={"size": size, "format": "RGB888"}))
        cam.start()
    except PicameraUnavailable:
        raise
    except Exception as exc:
        raise PicameraUnavailable(f"camera module failed to start: {exc}") from exc
    return PiCamera(cam, size)
