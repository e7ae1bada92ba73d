"""Face-match stand-in: Haar-cascade face crops compared by normalised correlation.

This is NOT a biometric matcher. It tells apart the few test faces the simulators use (different
people, pictures taken from the same photo), so the kiosk's flows see match / no_match /
no_photo_of_record / poor_quality answers; it would not survive a real population or an attack.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METHOD = "haar-crop-ncc stand-in (not biometric)"
CROP = 64  # side of the normalised face crop in pixels
UPPER_FRACTION = 0.62  # compare eyes and nose only: the liveness pictures move the mouth
SHIFT = 4  # pixels of misalignment searched either way
MIN_FACES = 2  # of the four pictures, at least this many must show a face
THRESHOLD = 0.85  # same test face >= 0.92 after rotation/blur; the other face <= 0.76


@dataclass(frozen=True)
class Verdict:
    verdict: str
    score: float
    faces_found: int
    threshold: float = THRESHOLD
    method: str = METHOD


class MatcherUnavailable(RuntimeError):
    """OpenCV or its face cascade is missing; the bureau answers 503."""


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_photo(ref: str, base_dir: Path) -> Path | None:
    """Where a persona's `photo_of_record` lives, or None when it is not installed.

    `matplotlib:grace_hopper` and `skimage:astronaut` are test faces shipped by those packages
    (found without importing them); `file:PATH` is relative to the persona file.
    """
    if not ref:
        return None
    if ref == "matplotlib:grace_hopper":
        pkg = _package_dir("matplotlib")
        path = pkg / "mpl-data" / "sample_data" / "grace_hopper.jpg" if pkg else None
    elif ref == "skimage:astronaut":
        pkg = _package_dir("skimage")
        path = pkg / "data" / "astronaut.png" if pkg else None
    elif ref.startswith("file:"):
        path = base_dir / ref[5:]
    else:
        raise ValueError(f"unknown photo_of_record {ref!r}")
    return path if path is not None and path.is_file() else None


class FaceMatcher:
    """Loads OpenCV lazily; one instance is shared by the server threads (cv2 is re-entrant)."""

    def __init__(self) -> None:
        self._cv2: Any = None
        self._np: Any = None
        self._cascade: Any = None
        self._record_cache: dict[str, Any] = {}

    def _load(self) -> None:
        if self._cascade is not None:
            return
        try:
            import cv2
            import numpy
        except ImportError as exc:
            raise MatcherUnavailable(f"opencv not installed: {exc}") from exc
        candidates = [
            Path(getattr(getattr(cv2, "data", None), "haarcascades", "") or "."),
            Path("/usr/share/opencv4/haarcascades"),
        ]
        for folder in candidates:
            path = folder / "haarcascade_frontalface_default.xml"
            if path.is_file():
                cascade = cv2.CascadeClassifier(str(path))
                if not cascade.empty():
                    self._cv2, self._np, self._cascade = cv2, numpy, cascade
                    return
        # opencv-python 5.x wheels no longer ship the cascades
        raise MatcherUnavailable("haarcascade_frontalface_default.xml not found")

    def _crop(self, gray: Any) -> Any | None:
        cv2, np = self._cv2, self._np
        side = min(gray.shape[:2])
        faces = self._cascade.detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(max(24, side // 8),) * 2
        )
        if len(faces) == 0:
            return None
        x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
        face = gray[y : y + int(h * UPPER_FRACTION), x : x + w]
        face = cv2.resize(face, (CROP + 2 * SHIFT, int(CROP * UPPER_FRACTION) + 2 * SHIFT))
        face = cv2.equalizeHist(face)
        return cv2.GaussianBlur(face, (3, 3), 0).astype(np.float32)

    def _decode(self, data: bytes) -> Any | None:
        buf = self._np.frombuffer(data, dtype=self._np.uint8)
        return self._cv2.imdecode(buf, self._cv2.IMREAD_GRAYSCALE)

    def _record(self, path: Path) -> Any | None:
        key = str(path)
        if key not in self._record_cache:
            gray = self._cv2.imread(key, self._cv2.IMREAD_GRAYSCALE)
            crop = self._crop(gray) if gray is not None else None
            # the record is the template: its centre, so probes may sit SHIFT pixels off
            self._record_cache[key] = None if crop is None else crop[SHIFT:-SHIFT, SHIFT:-SHIFT]
        return self._record_cache[key]

    def compare(self, pictures: list[bytes], record_path: Path | None) -> Verdict:
        """Judge four JPEG pictures against the photo of record."""
        self._load()
        if record_path is None:
            return Verdict("no_photo_of_record", 0.0, 0)
        template = self._record(record_path)
        if template is None:
            return Verdict("no_photo_of_record", 0.0, 0)
        scores: list[float] = []
        for data in pictures:
            gray = self._decode(data)
            crop = self._crop(gray) if gray is not None else None
            if crop is None:
                continue
            result = self._cv2.matchTemplate(crop, template, self._cv2.TM_CCOEFF_NORMED)
            scores.append(float(result.max()))
        if len(scores) < MIN_FACES:
            return Verdict("poor_quality", 0.0, len(scores))
        score = round(sorted(scores)[len(scores) // 2], 4)  # median-ish: one bad frame is noise
        return Verdict("match" if score >= THRESHOLD else "no_match", score, len(scores))


def default_matcher() -> FaceMatcher:
    return FaceMatcher()


__all__ = ["FaceMatcher", "MatcherUnavailable", "Verdict", "resolve_photo"]
