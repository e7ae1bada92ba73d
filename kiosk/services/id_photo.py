"""The ID-style photo check for "apply for a card": one face, centred, frontal, eyes open, plain
background, even light, sharp; an accepted frame becomes a 358x441 JPEG crop around the face.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import cv2
import numpy as np

from kiosk.liveness.landmarks import LEFT_EYE_OUTER, NOSE_TIP, RIGHT_EYE_OUTER, Mesh, Roi
from kiosk.liveness.measures import FaceMeasures, measure
from kiosk.liveness.settings import LivenessSettings
from kiosk.liveness.tracker import FaceEngine

log = logging.getLogger(__name__)

# GA 461 card photo: 358x441 pixels (26x32 mm at 350 dpi).
CROP_SIZE = (358, 441)
# Cheek-to-cheek face width as a share of the crop width: the head with hair then spans a little
# under 60 % of it, as the card photo rules ask; the face centre sits a bit below the middle so
# the hair and a margin fit above.
FACE_WIDTH_SHARE = 0.52
FACE_CENTRE_Y = 0.54
LANDMARK_PASSES = 2  # one frame has no track to follow: a second pass centres the crop on the face

PROBLEMS = (
    "photo.problem.no_face", "photo.problem.several_faces", "photo.problem.too_far",
    "photo.problem.too_close", "photo.problem.not_centred", "photo.problem.not_frontal",
    "photo.problem.tilted", "photo.problem.eyes_closed", "photo.problem.too_dark",
    "photo.problem.too_bright", "photo.problem.uneven_light", "photo.problem.blurred",
    "photo.problem.busy_background",
)


@dataclass(frozen=True)
class PhotoSettings:
    """The photo.* keys of the config schema; defaults equal the schema's."""

    min_face_frac: float = 0.20
    max_centre_offset: float = 0.10
    max_yaw_deg: float = 10.0
    max_pitch_deg: float = 12.0
    max_roll_deg: float = 8.0
    min_eye_ratio: float = 0.15
    min_eye_dark: float = 0.18
    min_luma: float = 70.0
    max_luma: float = 210.0
    max_side_shadow: float = 0.25
    min_sharpness: float = 60.0
    max_background_texture: float = 2.5
    max_background_std: float = 25.0
    jpeg_quality: int = 92

    @classmethod
    def from_config(cls, cfg: Any) -> PhotoSettings:
        values = cfg if isinstance(cfg, Mapping) else getattr(cfg, "values", None) or {}
        return cls(**{f.name: values[f"photo.{f.name}"] for f in fields(cls)
                      if f"photo.{f.name}" in values})


@dataclass(frozen=True)
class PhotoMeasures:
    """What the check measured, for the maintenance log and for tuning (no image data)."""

    faces: int
    face: FaceMeasures | None = None
    side_shadow: float = 0.0
    eye_dark: float = 0.0
    background_texture: float = 0.0
    background_std: float = 0.0


@dataclass(frozen=True)
class PhotoCheck:
    """ok with the JPEG crop, or the problems (message keys, most basic first) to show the citizen."""

    ok: bool
    problems: tuple[str, ...] = ()
    crop: bytes = b""
    measures: PhotoMeasures | None = None


class IdPhotoChecker:
    """The face engine plus the thresholds; not for two threads at once (the engine is not)."""

    def __init__(self, engine: FaceEngine, settings: PhotoSettings | None = None,
                 presence_score: float = LivenessSettings.presence_score) -> None:
        self.engine = engine
        self.settings = settings or PhotoSettings()
        self.presence_score = presence_score

    @classmethod
    def from_config(cls, cfg: Any) -> IdPhotoChecker:
        live = LivenessSettings.from_config(cfg)
        return cls(FaceEngine.load(live), PhotoSettings.from_config(cfg), live.presence_score)

    def __repr__(self) -> str:
        return f"<IdPhotoChecker {self.settings}>"

    def check(self, rgb: np.ndarray) -> PhotoCheck:
        return check_photo(rgb, self.engine, self.settings, self.presence_score)


def check_photo(rgb: np.ndarray, engine: FaceEngine, settings: PhotoSettings | None = None,
                presence_score: float = LivenessSettings.presence_score) -> PhotoCheck:
    """Judge one RGB frame (H, W, 3 uint8) as an ID photo."""
    s = settings or PhotoSettings()
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 frame, got {rgb.shape} {rgb.dtype}")
    dets = engine.detector.detect(rgb)
    if len(dets) != 1:
        key = "photo.problem.no_face" if not dets else "photo.problem.several_faces"
        return _refused((key,), PhotoMeasures(len(dets)))
    mesh = engine.landmarker.run(rgb, Roi.from_detection(dets[0]))
    for _ in range(LANDMARK_PASSES - 1):
        mesh = engine.landmarker.run(rgb, Roi.from_landmarks(mesh.points))
    if mesh.presence < presence_score:
        return _refused(("photo.problem.no_face",), PhotoMeasures(1))
    m = measure(mesh, rgb.shape, 0.0)
    window = crop_window(mesh.points, rgb.shape)
    shadow = side_shadow(mesh)
    eye_dark = eye_darkness(rgb, mesh.points)
    texture, spread = background_plainness(rgb, mesh.points, window)
    found = PhotoMeasures(1, m, shadow, eye_dark, texture, spread)

    problems: list[str] = []
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = window
    if m.face_frac < s.min_face_frac:
        problems.append("photo.problem.too_far")
    elif x1 - x0 > w or y1 - y0 > h:
        problems.append("photo.problem.too_close")
    if (abs(m.centre_dx) > s.max_centre_offset or abs(m.centre_dy) > s.max_centre_offset
            or ((x0 < 0 or y0 < 0 or x1 > w or y1 > h) and "photo.problem.too_close" not in problems)):
        problems.append("photo.problem.not_centred")
    if abs(m.yaw_deg) > s.max_yaw_deg or abs(m.pitch_deg) > s.max_pitch_deg:
        problems.append("photo.problem.not_frontal")
    if abs(m.roll_deg) > s.max_roll_deg:
        problems.append("photo.problem.tilted")
    if m.eye_ratio < s.min_eye_ratio or eye_dark < s.min_eye_dark:
        problems.append("photo.problem.eyes_closed")
    if m.luma < s.min_luma:
        problems.append("photo.problem.too_dark")
    elif m.luma > s.max_luma:
        problems.append("photo.problem.too_bright")
    elif shadow > s.max_side_shadow:
        problems.append("photo.problem.uneven_light")
    if m.sharpness < s.min_sharpness and "photo.problem.too_dark" not in problems:
        problems.append("photo.problem.blurred")  # a dark face is never sharp: say the cause
    if texture > s.max_background_texture or spread > s.max_background_std:
        problems.append("photo.problem.busy_background")
    if problems:
        return _refused(tuple(problems), found)
    crop = rgb[int(y0):int(y0) + int(y1 - y0), int(x0):int(x0) + int(x1 - x0)]
    crop = cv2.resize(crop, CROP_SIZE, interpolation=cv2.INTER_AREA if crop.shape[1] > CROP_SIZE[0]
                      else cv2.INTER_CUBIC)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, s.jpeg_quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    log.info("event=id_photo_accepted %s", _fields(found))
    return PhotoCheck(True, (), jpeg.tobytes(), found)


def _refused(problems: tuple[str, ...], found: PhotoMeasures) -> PhotoCheck:
    log.info("event=id_photo_refused problems=%s %s",
             ",".join(p.rsplit(".", 1)[-1] for p in problems), _fields(found))
    return PhotoCheck(False, problems, b"", found)


def _fields(m: PhotoMeasures) -> str:
    if m.face is None:
        return f"faces={m.faces}"
    f = m.face
    return (f"faces={m.faces} face_frac={f.face_frac:.2f} dx={f.centre_dx:+.2f} dy={f.centre_dy:+.2f} "
            f"yaw={f.yaw_deg:+.0f} pitch={f.pitch_deg:+.0f} roll={f.roll_deg:+.0f} "
            f"eyes={f.eye_ratio:.2f} eye_dark={m.eye_dark:.2f} luma={f.luma:.0f} shadow={m.side_shadow:.2f} "
            f"sharp={f.sharpness:.0f} bg_texture={m.background_texture:.1f} "
            f"bg_std={m.background_std:.1f}")


def crop_window(points: np.ndarray, shape: tuple[int, ...]) -> tuple[float, float, float, float]:
    """The ID-ratio window (x0, y0, x1, y1) in frame pixels around the face; may leave the frame."""
    face_w = float(np.hypot(*(points[454, :2] - points[234, :2])))  # cheek to cheek
    cx = float(points[234, 0] + points[454, 0]) / 2
    cy = float(points[:, 1].min() + points[:, 1].max()) / 2
    cw = face_w / FACE_WIDTH_SHARE
    ch = cw * CROP_SIZE[1] / CROP_SIZE[0]
    x0, y0 = cx - cw / 2, cy - FACE_CENTRE_Y * ch
    return (x0, y0, x0 + cw, y0 + ch)


def side_shadow(mesh: Mesh) -> float:
    """1 - darker/brighter mean brightness of the face's two halves (eye-levelled crop, cheeks
    and eyes, below the hairline): 0 for even light, towards 1 for a face half in shadow."""
    gray = cv2.cvtColor(mesh.crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    # The landmark crop is the face box scaled 1.5x: the face fills its middle two thirds.
    left, right = gray[64:150, 46:92], gray[64:150, 100:146]
    a, b = float(left.mean()), float(right.mean())
    return 1.0 - min(a, b) / max(a, b, 1.0)


def eye_darkness(rgb: np.ndarray, points: np.ndarray) -> float:
    """Share of the darker eye's box that is much darker than the nose: iris and pupil.

    The landmark model draws an eye's lids half open even over a closed eye, so the lid gap alone
    does not tell; a closed lid is skin with a thin lash line, an open eye shows a dark disc."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = gray.shape
    nx, ny = int(points[NOSE_TIP, 0]), int(points[NOSE_TIP, 1])
    nose = float(gray[max(ny - 5, 0):ny + 5, max(nx - 5, 0):nx + 5].mean())
    shares = []
    for a, b in ((RIGHT_EYE_OUTER, 133), (362, LEFT_EYE_OUTER)):
        (x0, y0), (x1, y1) = points[a, :2], points[b, :2]
        width = float(np.hypot(x1 - x0, y1 - y0))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        box = gray[max(int(cy - 0.25 * width), 0):min(int(cy + 0.25 * width), h),
                   max(int(cx - 0.4 * width), 0):min(int(cx + 0.4 * width), w)]
        shares.append(float((box < 0.55 * nose).mean()) if box.size else 0.0)
    return min(shares)


def background_plainness(rgb: np.ndarray, points: np.ndarray,
                         window: tuple[float, float, float, float]) -> tuple[float, float]:
    """(edge strength, colour spread) of the background: inside the crop window, above the nose
    (below it, shoulders and collars are not background), outside an ellipse around the head and
    hair. Sensor noise is smoothed away first."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = (round(v) for v in window)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    y1 = min(y1, int(points[NOSE_TIP, 1]))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return math.inf, math.inf  # no background to judge: the face fills the frame
    region = cv2.GaussianBlur(rgb[y0:y1, x0:x1], (5, 5), 0)
    fx0, fy0 = points[:, 0].min(), points[:, 1].min()
    fx1, fy1 = points[:, 0].max(), points[:, 1].max()
    fw, fh = fx1 - fx0, fy1 - fy0
    mask = np.full(region.shape[:2], 255, np.uint8)
    # Hair sits above and around the landmarks' box (which ends at the forehead, not the crown).
    centre = (int((fx0 + fx1) / 2 - x0), int(fy0 + 0.35 * fh - y0))
    axes = (int(0.80 * fw), int(0.95 * fh))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 0, -1)
    keep = mask > 0
    if keep.sum() < 200:
        return math.inf, math.inf
    gray = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3) / 8
    # The ellipse's rim would count the head's own outline as background edges: shrink the mask.
    inner = cv2.erode(mask, np.ones((7, 7), np.uint8)) > 0
    edges = float(np.hypot(gx, gy)[inner].mean()) if inner.any() else math.inf
    pixels = region[keep].astype(np.float32)
    spread = float(math.sqrt(pixels.var(axis=0).mean()))
    return edges, spread
