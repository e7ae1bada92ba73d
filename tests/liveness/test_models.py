"""Model files: pinned hashes, and a clear error naming the file and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiosk.liveness import FaceEngine, LivenessSettings, ModelError, locate
from kiosk.liveness.models import DETECTOR_FILE, EXPECTED, LANDMARK_FILE, sha256_of


def test_pinned_models_verify():
    files = locate()
    assert sha256_of(files.detector) == EXPECTED[DETECTOR_FILE][1]
    assert sha256_of(files.landmarks) == EXPECTED[LANDMARK_FILE][1]


def _copy_models(dest: Path) -> None:
    files = locate()
    shutil.copy(files.detector, dest / DETECTOR_FILE)
    shutil.copy(files.landmarks, dest / LANDMARK_FILE)


def test_wrong_hash_names_the_file_and_the_fix(tmp_path):
    """GIVEN a landmark model with one byte changed WHEN the engine loads THEN it refuses, naming
    the file and the script that fetches the right one."""
    _copy_models(tmp_path)
    bad = tmp_path / LANDMARK_FILE
    data = bytearray(bad.read_bytes())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelError) as err:
        FaceEngine.load(LivenessSettings(model_dir=str(tmp_path)))
    msg = str(err.value)
    assert LANDMARK_FILE in msg and "SHA-256 mismatch" in msg and "scripts/fetch-models.sh" in msg


def test_missing_file_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(ModelError) as err:
        locate(tmp_path)
    assert DETECTOR_FILE in str(err.value) and "missing" in str(err.value)
    assert "scripts/fetch-models.sh" in str(err.value)


def test_truncated_file_is_refused(tmp_path):
    _copy_models(tmp_path)
    (tmp_path / DETECTOR_FILE).write_bytes(b"not a model")
    with pytest.raises(ModelError, match="wrong size"):
        locate(tmp_path)
