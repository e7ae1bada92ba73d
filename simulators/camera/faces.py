"""Face photos for the synthetic subject and where their mouth, jaw and eyes are.

The packaged photos carry hand-measured layouts (pixel positions in the original image); any other
photo is located with OpenCV's Haar cascade and the layout is placed by average face proportions.
Nothing here comes from the kiosk's own face pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

Point = tuple[float, float]


@dataclass(frozen=True)
class Eye:
    outer: Point
    inner: Point
    upper: Point  # upper lid, middle
    lower: Point  # lower lid, middle


@dataclass(frozen=True)
class FaceLayout:
    """Positions in image pixels; 'right' is the subject's right (image left)."""

    mouth_right: Point
    mouth_left: Point
    upper_inner: Point  # middle of the upper lip's inner edge
    lower_outer: Point  # middle of the lower lip's outer edge
    chin: Point
    jaw_right: Point
    jaw_left: Point
    nose_base: Point
    forehead: Point
    right_eye: Eye
    left_eye: Eye

    @property
    def face_height(self) -> float:
        return self.chin[1] - self.forehead[1]

    @property
    def centre(self) -> Point:
        return ((self.jaw_right[0] + self.jaw_left[0]) / 2, (self.forehead[1] + self.chin[1]) / 2)

    @property
    def width(self) -> float:
        return self.jaw_left[0] - self.jaw_right[0]


@dataclass(frozen=True)
class FacePhoto:
    name: str
    rgb: np.ndarray
    layout: FaceLayout


_KNOWN = {
    "grace_hopper": FaceLayout(
        mouth_right=(236, 276), mouth_left=(299, 273), upper_inner=(268, 277), lower_outer=(269, 291),
        chin=(271, 333), jaw_right=(192, 285), jaw_left=(344, 277), nose_base=(268, 252),
        forehead=(262, 131),
        right_eye=Eye(outer=(200, 193), inner=(240, 193), upper=(216, 186), lower=(221, 197)),
        left_eye=Eye(outer=(328, 186), inner=(289, 190), upper=(312, 181), lower=(309, 192))),
    "astronaut": FaceLayout(
        mouth_right=(204, 140), mouth_left=(243, 142), upper_inner=(223, 142), lower_outer=(222, 155),
        chin=(221, 176), jaw_right=(186, 150), jaw_left=(260, 154), nose_base=(223, 134),
        forehead=(227, 70),
        right_eye=Eye(outer=(194, 101), inner=(214, 104), upper=(203, 98), lower=(204, 105)),
        left_eye=Eye(outer=(257, 104), inner=(237, 105), upper=(249, 100), lower=(246, 107))),
}
NAMES = tuple(_KNOWN)


def _package_file(package: str, *parts: str) -> Path:
    """A data file shipped inside a package, found without importing the package: the synthetic
    camera runs inside the kiosk process, which must not carry matplotlib or scikit-image."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package} is not installed")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    return path


def packaged_photo(name: str) -> np.ndarray:
    """A packaged test photo as RGB: grace_hopper (matplotlib) or astronaut (scikit-image)."""
    from PIL import Image

    if name == "grace_hopper":
        path = _package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg")
    elif name == "astronaut":
        path = _package_file("skimage", "data", "astronaut.png")
    else:
        raise KeyError(name)
    with Image.open(path) as img:
        return np.ascontiguousarray(np.asarray(img.convert("RGB")))


def layout_from_box(x: float, y: float, w: float, h: float) -> FaceLayout:
    """Average frontal-face proportions inside a Haar face box."""
    def p(fx: float, fy: float) -> Point:
        return (x + fx * w, y + fy * h)

    return FaceLayout(
        mouth_right=p(0.36, 0.80), mouth_left=p(0.64, 0.80), upper_inner=p(0.50, 0.80),
        lower_outer=p(0.50, 0.86), chin=p(0.50, 1.02), jaw_right=p(0.10, 0.78), jaw_left=p(0.90, 0.78),
        nose_base=p(0.50, 0.66), forehead=p(0.50, 0.05),
        right_eye=Eye(outer=p(0.20, 0.40), inner=p(0.40, 0.41), upper=p(0.30, 0.37), lower=p(0.30, 0.43)),
        left_eye=Eye(outer=p(0.80, 0.40), inner=p(0.60, 0.41), upper=p(0.70, 0.37), lower=p(0.70, 0.43)))


def locate_face(rgb: np.ndarray) -> FaceLayout:
    import cv2
    import cv2.data  # where the Haar cascades are: a submodule, imported by name

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    boxes = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(60, 60))
    if len(boxes) == 0:
        raise ValueError("no frontal face found in the photo")
    x, y, w, h = max(boxes, key=lambda b: b[2] * b[3])
    return layout_from_box(float(x), float(y), float(w), float(h))


def load_face(name_or_path: str = "grace_hopper") -> FacePhoto:
    """A packaged photo by name (grace_hopper, astronaut) or any frontal photo file."""
    if name_or_path in _KNOWN:
        return FacePhoto(name_or_path, packaged_photo(name_or_path), _KNOWN[name_or_path])
    from PIL import Image

    path = Path(name_or_path)
    rgb = np.asarray(Image.open(path).convert("RGB"))
    return FacePhoto(path.stem, rgb, locate_face(rgb))
