"""The synthetic camera: renders the subject into 640x480 frames on a virtual or real clock.

Only cues the citizen would see reach the subject, through `cue(event)` (alias `on_cue`), called by
whoever shows the cue on screen or speaks it. In virtual time frames come as fast as they are
consumed, stamped start + n / fps, so a 30-second timeout takes a fraction of a second.

Frames and status are this module's own values: the kiosk's adapter (kiosk/hw/camera_synthetic.py)
turns them into its Frame and DeviceHealth, so the simulator shares no type with the kiosk.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from simulators.camera.faces import FacePhoto, load_face
from simulators.camera.phone import Phone, draw_phone, place
from simulators.camera.subject import MODES, Subject
from simulators.camera.warp import blink_warp, mouth_warp

MOUTH_STEPS, BLINK_STEPS = 20, 6
DARK_GAIN = 0.12


@dataclass(frozen=True)
class SyntheticFrame:
    """One rendered frame: RGB uint8 array (H, W, 3) and its time on the camera's clock (seconds;
    time.monotonic() when realtime)."""

    rgb: np.ndarray
    timestamp: float


@dataclass(frozen=True)
class CameraStatus:
    """Whether frames still come, and a line for a technician."""

    open: bool
    detail: str


class _Actor:
    """One photo with its warps and its placement matrix in the frame."""

    def __init__(self, photo: FacePhoto, size: tuple[int, int], centre: tuple[float, float],
                 face_height: float) -> None:
        self.photo = photo
        shape = photo.rgb.shape
        self.warps = [(mouth_warp(photo.layout, shape), MOUTH_STEPS, "mouth"),
                      (blink_warp(photo.layout.right_eye, shape), BLINK_STEPS, "blink"),
                      (blink_warp(photo.layout.left_eye, shape), BLINK_STEPS, "blink")]
        self.work = photo.rgb.copy()
        self.size, self.centre = size, centre
        self.scale = face_height / photo.layout.face_height

    def render(self, mouth: float, blink: float, pose: Any) -> np.ndarray:
        for warp, steps, kind in self.warps:
            x0, y0, x1, y1 = warp.rect
            self.work[y0:y1, x0:x1] = warp.patch(self.photo.rgb, mouth if kind == "mouth" else blink, steps)
        fx, fy = self.photo.layout.centre
        m = cv2.getRotationMatrix2D((fx, fy), pose.angle_deg, self.scale * pose.scale)
        m[0, 2] += self.centre[0] + pose.dx - fx
        m[1, 2] += self.centre[1] + pose.dy - fy
        return cv2.warpAffine(self.work, m, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _sensor_noise(rng: np.random.Generator, sigma: float,
                  shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative parts of Gaussian noise as uint8, drawn a band of rows at a time: the
    same numbers as one draw of the whole shape, without a 30 MB float64 buffer (and its copies)
    that the kiosk process, which hosts this camera under --sim, would keep as heap afterwards."""
    pos, neg = np.empty(shape, np.uint8), np.empty(shape, np.uint8)
    band = 32
    for y in range(0, shape[0], band):
        chunk = rng.normal(0, sigma, (min(band, shape[0] - y), *shape[1:]))
        pos[y:y + band] = np.clip(chunk, 0, 255)
        neg[y:y + band] = np.clip(-chunk, 0, 255)
    return pos, neg


class SyntheticCamera:
    """A camera showing a synthetic subject; see MODES for the attack modes."""

    name = "camera"

    def __init__(self, mode: str = "genuine", face: str = "grace_hopper", fps: float = 15.0,
                 seed: int = 0, size: tuple[int, int] = (640, 480), realtime: bool = False,
                 start: float = 1000.0, other_face: str | None = None, noise: float = 2.5,
                 reaction_s: tuple[float, float] = (0.35, 0.9), scale: float = 1.0,
                 dx: float = 0.0, dy: float = 0.0, roll: float = 0.0, shake: float = 0.0,
                 qr: str | None = None, qr_side: float = 0.36, qr_tilt: float = 7.0) -> None:
        """scale multiplies the face size, dx/dy shift it (fractions of the frame), roll tilts it
        (degrees) and shake moves it side to side (pixels at 1.5 Hz): the guidance states.
        qr: the subject holds up a phone showing a QR code of this text (show_qr changes it),
        the code qr_side of the frame's height wide, the phone tilted qr_tilt degrees."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        self.mode, self.face, self.fps, self.seed = mode, face, fps, seed
        self.size, self.realtime = size, realtime
        self._closed = threading.Event()
        self.frames_made = 0
        self.start = time.monotonic() if realtime else start
        self.now = self.start
        rng = random.Random(seed * 7919 + 1)
        w, h = size
        self.gain = rng.uniform(0.85, 1.1) * (DARK_GAIN if mode == "dark" else 1.0)
        other = other_face or ("astronaut" if face != "astronaut" else "grace_hopper")
        fh = h * rng.uniform(0.40, 0.50) * scale
        centre = (w / 2 + rng.uniform(-25, 25) + dx * w, h * 0.48 + rng.uniform(-15, 15) + dy * h)
        self.actors: list[_Actor] = []
        if mode == "twofaces":
            self.actors = [_Actor(load_face(face), size, (w * 0.27, h * 0.5), h * 0.36),
                           _Actor(load_face(other), size, (w * 0.73, h * 0.5), h * 0.36)]
        elif mode != "noface":
            self.actors = [_Actor(load_face(face), size, centre, fh)]
            if mode == "swap":
                self.actors.append(_Actor(load_face(other), size, centre, fh))
        self.background = self._background() if mode in ("noface", "leave") else None
        self.subject = Subject(mode, self.start, seed, reaction_s=reaction_s, roll_deg=roll, shake_px=shake)
        nrng = np.random.default_rng(seed)
        self._noise_pos, self._noise_neg = _sensor_noise(nrng, noise, (h * 2, w * 2, 3))
        self._nrng = nrng
        lut = np.clip(np.arange(256) * self.gain, 0, 255).astype(np.uint8)
        self._lut = lut
        self.qr_side, self.qr_tilt = qr_side, qr_tilt
        self._phone: Phone | None = None
        self.show_qr(qr)

    def _background(self) -> np.ndarray:
        """An empty hall: the shuttle side of the astronaut photo, no face in it."""
        from simulators.camera.faces import packaged_photo  # the file only: no skimage import

        scene = np.ascontiguousarray(packaged_photo("astronaut")[0:300, 330:512])
        return cv2.resize(scene, self.size, interpolation=cv2.INTER_LINEAR)

    # -- the citizen's side of the screen ---------------------------------------------------------
    def cue(self, event: Any) -> None:
        """Show the subject what the kiosk shows the citizen; only 'cue' events make it react."""
        if getattr(event, "kind", event) == "cue":
            self.subject.on_cue(self.now)

    on_cue = cue

    def show_qr(self, text: str | None) -> None:
        """The subject holds up a phone showing a QR code of `text` (None: puts it away)."""
        self._phone = draw_phone(text, round(self.size[1] * self.qr_side)) if text else None

    # -- frames -----------------------------------------------------------------------------------
    def render(self, t: float) -> np.ndarray:
        s = self.subject
        if self.background is not None and (self.mode == "noface" or s.away(t)):
            frame = self.background.copy()
        else:
            pose = s.pose(t)
            if self.mode == "twofaces":
                left = self.actors[0].render(0.0, s.blink(t), pose)
                right = self.actors[1].render(0.0, s.blink(t + 1.3), pose)
                frame = left
                frame[:, self.size[0] // 2:] = right[:, self.size[0] // 2:]
            else:
                actor = self.actors[s.face_index(t)]
                frame = actor.render(s.mouth(t), s.blink(t), pose)
        phone = self._phone
        if phone is not None:  # held below the chin, moving with the hand
            pose = s.pose(t)
            w, h = self.size
            place(frame, phone, (w * 0.5 + 1.5 * pose.dx, h * 0.62 + 1.5 * pose.dy), self.qr_tilt + pose.angle_deg)
        if self.gain != 1.0:
            frame = cv2.LUT(frame, self._lut)
        w, h = self.size
        ox, oy = int(self._nrng.integers(0, w)), int(self._nrng.integers(0, h))
        cv2.add(frame, self._noise_pos[oy:oy + h, ox:ox + w], dst=frame)
        cv2.subtract(frame, self._noise_neg[oy:oy + h, ox:ox + w], dst=frame)
        return frame

    def frames(self) -> Iterator[SyntheticFrame]:
        n = 0
        while not self._closed.is_set():
            t = self.start + n / self.fps
            if self.realtime:
                delay = t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    n = max(n, int((time.monotonic() - self.start) * self.fps))  # drop frames, as a camera does
                t = time.monotonic()
            self.now = t
            frame = SyntheticFrame(self.render(t), t)
            self.frames_made += 1
            n += 1
            yield frame

    def status(self) -> CameraStatus:
        if self._closed.is_set():
            return CameraStatus(False, "synthetic camera closed")
        phone = " phone=qr" if self._phone is not None else ""
        return CameraStatus(True, f"synthetic mode={self.mode} face={self.face} fps={self.fps:g}{phone}")

    def close(self) -> None:
        self._closed.set()

    def __enter__(self) -> SyntheticCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        clock = "realtime" if self.realtime else "virtual"
        return (f"<SyntheticCamera mode={self.mode} face={self.face} fps={self.fps:g} clock={clock} "
                f"t={self.now - self.start:.2f}s frames={self.frames_made} cues={len(self.subject.cues_seen)}"
                f"{' phone=qr' if self._phone is not None else ''}>")


