"""Locating and verifying the two face model files; nothing here downloads anything.

The files come from the pinned wheel mediapipe==0.10.14 (Apache-2.0) via scripts/fetch-models.sh;
a missing or altered file is an error that names the file and the fix.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

FETCH_HINT = "run scripts/fetch-models.sh"

# file name -> (size in bytes, SHA-256); keep in step with scripts/fetch-models.sh
DETECTOR_FILE = "face_detection_short_range.tflite"
LANDMARK_FILE = "face_landmark.tflite"
EXPECTED: dict[str, tuple[int, str]] = {
    DETECTOR_FILE: (229_714, "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"),
    LANDMARK_FILE: (1_242_398, "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"),
}

_REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
# The source tree's models/, the image's (image/hooks/kiosk-customize.sh), a package's, the user's cache.
_SEARCH = (_REPO_MODELS, Path("/opt/kiosk/models"), Path("/usr/share/kiosk/models"),
           Path.home() / ".cache" / "kiosk-models")


class ModelError(Exception):
    """A model file is missing or is not the file we pinned; str() says which and what to do."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"face model {path}: {problem}; {FETCH_HINT}")


@dataclass(frozen=True)
class ModelFiles:
    detector: Path
    landmarks: Path


def search_dirs(model_dir: str | os.PathLike[str] | None = None) -> tuple[Path, ...]:
    """Where models are looked for: the configured dir only, or the defaults in order."""
    if model_dir:
        return (Path(model_dir),)
    env = os.environ.get("KIOSK_LIVENESS_MODEL_DIR")
    return (Path(env),) if env else _SEARCH


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, name: str | None = None) -> Path:
    """Check one file's size and SHA-256 against the pinned values; returns the path."""
    size, sha = EXPECTED[name or path.name]
    if not path.is_file():
        raise ModelError(path, "missing")
    actual_size = path.stat().st_size
    if actual_size != size:
        raise ModelError(path, f"wrong size {actual_size} bytes (expected {size})")
    actual = sha256_of(path)
    if actual != sha:
        raise ModelError(path, f"SHA-256 mismatch (got {actual[:12]}..., expected {sha[:12]}...)")
    return path


def locate(model_dir: str | os.PathLike[str] | None = None) -> ModelFiles:
    """Find both files in the first directory that has the detector, and verify them."""
    dirs = search_dirs(model_dir)
    base = next((d for d in dirs if (d / DETECTOR_FILE).exists()), dirs[0])
    return ModelFiles(detector=verify(base / DETECTOR_FILE, DETECTOR_FILE),
                      landmarks=verify(base / LANDMARK_FILE, LANDMARK_FILE))
