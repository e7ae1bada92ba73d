"""The synthetic camera (simulators/camera) as a kiosk Camera, for `devices.camera = synthetic`.

The simulator is an independent implementation with its own frame and status values; this adapter
turns them into the kiosk's Frame and DeviceHealth, and passes the cues the citizen is shown on to
the synthetic subject. The registry imports this module only for a synthetic spec, so the
simulator (and OpenCV) load only then; on an image without the simulators the import fails and
the camera's health says its driver is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kiosk.hw.health import DeviceHealth
from kiosk.hw.ports import Frame
from simulators.camera import open_camera as open_synthetic


class SyntheticCameraAdapter:
    """A Camera over a simulators.camera.SyntheticCamera (kept as `.camera` for tests and tools)."""

    name = "camera"

    def __init__(self, camera: Any) -> None:
        self.camera = camera

    def frames(self) -> Iterator[Frame]:
        for frame in self.camera.frames():
            yield Frame(frame.rgb, frame.timestamp)

    def cue(self, event: Any) -> None:
        """What the kiosk shows the citizen, shown to the synthetic subject too."""
        self.camera.cue(event)

    on_cue = cue

    def show_qr(self, text: str | None) -> None:
        """The synthetic subject holds up a phone showing a QR code of `text` (None: puts it away)."""
        self.camera.show_qr(text)

    def health(self) -> DeviceHealth:
        status = self.camera.status()
        if not status.open:
            return DeviceHealth.offline("health.camera.offline", status.detail)
        return DeviceHealth.ok(status.detail)

    def close(self) -> None:
        self.camera.close()

    def __enter__(self) -> SyntheticCameraAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SyntheticCameraAdapter {self.camera!r}>"


def open_camera(spec: str, cfg: Any = None) -> SyntheticCameraAdapter:
    """Registry entry point. In-process use by the kiosk runs on the real clock unless told not to."""
    return SyntheticCameraAdapter(open_synthetic(spec))
