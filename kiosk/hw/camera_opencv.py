"""OpenCV camera adapter: `opencv:N` (a V4L2/USB camera) and `file:PATH` (a video file, a single
image shown as a still, or a folder of frames in name order). cv2 is imported lazily.

Frames are RGB with monotonic timestamps: the capture time for a live camera; for files either the
real clock, paced at the file's rate (`realtime=True`, as the kiosk shows them), or a virtual clock
start + n / fps without sleeping (`realtime=False`, for the CLI and tests).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kiosk.hw.health import DeviceHealth
from kiosk.hw.ports import Frame

if TYPE_CHECKING:
    from kiosk.config import Config

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
MAX_READ_FAILURES = 15  # consecutive failed reads before the camera counts as gone
STILL_FPS = 15.0


class CameraOpenError(Exception):
    """The camera or file could not be opened; str() says which and why."""


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:  # the registry turns this into health.camera.driver_missing
        raise ImportError("OpenCV missing: pip install opencv-python-headless") from exc
    return cv2


class OpenCvCamera:
    name = "camera"

    def __init__(self, source: int | Path, size: tuple[int, int] = (640, 480), fps: float = 30.0,
                 realtime: bool = True, loop: bool = False) -> None:
        self.cv2 = _cv2()
        self.source, self.size, self.realtime, self.loop = source, size, realtime, loop
        self._closed = threading.Event()
        self._failures = 0
        self._ended = False
        self.frames_read = 0
        self._images: list[Path] = []
        self._still: np.ndarray | None = None
        self._cap: Any = None
        if isinstance(source, int):
            self._cap = self.cv2.VideoCapture(source)
            if not self._cap.isOpened():
                raise CameraOpenError(f"camera /dev/video{source} did not open")
            self._cap.set(self.cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self._cap.set(self.cv2.CAP_PROP_FRAME_HEIGHT, size[1])
            self.fps = fps
        elif source.is_dir():
            self._images = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._images:
                raise CameraOpenError(f"no image files in folder {source}")
            self.fps = fps
        elif source.suffix.lower() in IMAGE_SUFFIXES:
            if not source.is_file():
                raise CameraOpenError(f"image file {source} not found")
            self._images, self.loop, self.fps = [source], True, STILL_FPS
        else:
            if not source.is_file():
                raise CameraOpenError(f"video file {source} not found")
            self._cap = self.cv2.VideoCapture(str(source))
            if not self._cap.isOpened():
                raise CameraOpenError(f"video file {source} could not be decoded")
            self.fps = float(self._cap.get(self.cv2.CAP_PROP_FPS) or 0) or fps

    @property
    def is_file(self) -> bool:
        return not isinstance(self.source, int)

    def _read(self, n: int) -> np.ndarray | None:
        cv2 = self.cv2
        if self._images:
            if n >= len(self._images) and not self.loop:
                return None
            if self._still is not None:
                return self._still.copy()
            bgr = cv2.imread(str(self._images[n % len(self._images)]), cv2.IMREAD_COLOR)
            if bgr is not None and len(self._images) == 1:
                self._still = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                return self._still.copy()
        else:
            ok, bgr = self._cap.read()
            if not ok and self.loop and self.is_file:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, bgr = self._cap.read()
            if not ok:
                return None
        return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def frames(self) -> Iterator[Frame]:
        start, n = time.monotonic(), 0
        while not self._closed.is_set():
            rgb = self._read(n)
            if rgb is None:
                if self.is_file:
                    self._ended = True
                    log.info("event=camera_file_ended source=%s frames=%d", self.source, n)
                    return
                self._failures += 1
                if self._failures >= MAX_READ_FAILURES:
                    log.error("event=camera_lost source=%s", self.source)
                    return
                time.sleep(0.02)
                continue
            self._failures = 0
            if self.is_file and self.realtime:
                delay = start + n / self.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            t = time.monotonic() if (self.realtime or not self.is_file) else 1000.0 + n / self.fps
            n += 1
            self.frames_read += 1
            yield Frame(rgb, t)

    def cue(self, event: object) -> None:
        """A real camera films whoever is there; what the screen asks of them changes nothing here."""

    def health(self) -> DeviceHealth:
        if self._closed.is_set():
            return DeviceHealth.offline("health.camera.offline", "closed")
        if self._failures >= MAX_READ_FAILURES:
            return DeviceHealth.offline("health.camera.offline", f"{MAX_READ_FAILURES} failed reads")
        if self._ended:
            return DeviceHealth.degraded("health.camera.ended", f"end of {self.source}")
        return DeviceHealth.ok(f"source={self.source} fps={self.fps:g}")

    def close(self) -> None:
        self._closed.set()
        if self._cap is not None:
            self._cap.release()

    def __enter__(self) -> OpenCvCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        clock = "realtime" if (self.realtime or not self.is_file) else "virtual"
        return f"<OpenCvCamera source={self.source} fps={self.fps:g} clock={clock} frames={self.frames_read}>"


def open_camera(spec: str, cfg: Config | None = None, realtime: bool = True) -> OpenCvCamera:
    """`opencv:N` or `file:PATH`; raises CameraOpenError/ImportError with a plain reason."""
    kind, _, arg = spec.partition(":")
    if kind == "opencv":
        try:
            index = int(arg or 0)
        except ValueError:
            raise CameraOpenError(f"bad camera index in {spec!r} (expected opencv:0)") from None
        return OpenCvCamera(index)
    if kind == "file":
        if not arg:
            raise CameraOpenError("file camera needs a path: file:PATH")
        return OpenCvCamera(Path(arg).expanduser(), realtime=realtime)
    raise CameraOpenError(f"not an OpenCV camera spec: {spec!r}")
