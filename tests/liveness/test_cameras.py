"""Camera adapters and the synthetic camera as devices: specs, registry, health, files."""

from __future__ import annotations

import random
import subprocess
import sys

import cv2
import numpy as np
import pytest

from kiosk.hw import camera_opencv
from kiosk.hw.camera_synthetic import SyntheticCameraAdapter
from kiosk.hw.health import HealthState
from kiosk.hw.ports import Frame
from kiosk.hw.registry import Unavailable, open_adapter
from kiosk.liveness import LivenessSession, LivenessSettings
from simulators.camera import SyntheticCamera, SyntheticFrame, open_camera, parse_spec


def test_spec_parsing():
    assert parse_spec("synthetic") == {}
    assert parse_spec("synthetic:astronaut") == {"face": "astronaut"}
    assert parse_spec("synthetic:still,seed=3,fps=20,realtime=0") == {
        "mode": "still", "seed": 3, "fps": 20.0, "realtime": False}
    with pytest.raises(ValueError):
        parse_spec("synthetic:colour=blue")


def test_registry_opens_the_synthetic_camera_and_it_describes_itself():
    """The registry opens the simulator through the kiosk's adapter, which turns the simulator's
    own frame and status values into the kiosk's Frame and DeviceHealth."""
    cam = open_adapter("camera", "synthetic:replay,realtime=0", None)
    assert isinstance(cam, SyntheticCameraAdapter) and isinstance(cam.camera, SyntheticCamera)
    assert cam.health().state is HealthState.OK and "mode=replay" in cam.health().detail
    frame = next(cam.frames())
    assert type(frame) is Frame and type(next(cam.camera.frames())) is SyntheticFrame
    assert frame.rgb.shape == (480, 640, 3) and frame.rgb.dtype == np.uint8
    assert "mode=replay" in repr(cam) and "virtual" in repr(cam)
    cam.close()
    assert cam.health().state is HealthState.OFFLINE and cam.health().detail == "synthetic camera closed"


def test_virtual_clock_gives_frame_times_without_waiting():
    cam = open_camera("synthetic:fps=20,realtime=0")
    it = cam.frames()
    times = [next(it).timestamp for _ in range(5)]
    assert np.allclose(np.diff(times), 0.05)


def test_picamera2_off_the_pi_is_an_offline_camera_with_a_reason():
    cam = open_adapter("camera", "picamera2", None)
    assert isinstance(cam, Unavailable)
    health = cam.health()
    assert health.state is HealthState.OFFLINE and "picamera2" in health.detail


def test_missing_file_is_an_offline_camera():
    cam = open_adapter("camera", "file:/nonexistent/video.avi", None)
    assert isinstance(cam, Unavailable) and "not found" in cam.health().detail


def test_image_file_is_a_still_stream(tmp_path):
    frame = next(SyntheticCamera().frames()).rgb
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    cam = camera_opencv.open_camera(f"file:{path}", realtime=False)
    it = cam.frames()
    a, b = next(it), next(it)
    assert np.array_equal(a.rgb, frame) and b.timestamp > a.timestamp


def test_recorded_video_played_back_is_not_live(engine, tmp_path):
    """GIVEN a video of the synthetic person answering cues at 1.5, 4 and 6.5 s WHEN it is played
    back through file:PATH to a new session with its own random cues THEN it does not pass."""
    path = tmp_path / "recording.avi"
    subprocess.run([sys.executable, "-m", "simulators.camera", "--seconds", "14", "--cues",
                    "1.5,4,6.5,9,11.5", "--out", str(path)], check=True, capture_output=True)
    cam = camera_opencv.open_camera(f"file:{path}", realtime=False)
    assert cam.fps == pytest.approx(15.0)
    session = LivenessSession(engine, LivenessSettings(attempts=1), random.Random(5))
    n = 0
    for frame in cam.frames():
        n += 1
        session.feed(frame)
        if session.done:
            break
    verdict = session.verdict or session.cancel(frame.timestamp)
    assert n > 30 and verdict.result == "spoof" and verdict.checks_fired == ("replay",)


def test_frame_folder(tmp_path):
    cam = SyntheticCamera()
    it = cam.frames()
    for n in range(3):
        cv2.imwrite(str(tmp_path / f"f{n}.png"), cv2.cvtColor(next(it).rgb, cv2.COLOR_RGB2BGR))
    folder = camera_opencv.open_camera(f"file:{tmp_path}", realtime=False)
    frames = list(folder.frames())
    assert len(frames) == 3 and folder.health().state is HealthState.DEGRADED  # ended


def test_simulator_cli_help():
    out = subprocess.run([sys.executable, "-m", "simulators.camera", "--help"], capture_output=True,
                         text=True, check=True)
    assert "--mode" in out.stdout and "replay" in out.stdout
