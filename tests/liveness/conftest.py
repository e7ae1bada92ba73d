"""Liveness test fixtures: the face engine, with both models loaded once per test run."""

from __future__ import annotations

import pytest

from kiosk.liveness import FaceEngine, ModelError


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    try:
        return FaceEngine.load()
    except ModelError as exc:
        pytest.fail(str(exc))
