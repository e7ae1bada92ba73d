"""The pieces under the face screens, without the simulators: pinyin candidates, the voice cache,
the face check's cue hand-shake with the synthetic camera, the certification payload."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path

import pytest

from kiosk.services import pinyin_input
from kiosk.services.certification import Person, certification_data
from kiosk.services.face_check import FaceCheck, FacePictures, LivenessSummary
from kiosk.services.queries import Assurance


def test_pinyin_puts_common_surnames_first_and_understands_v_for_u_umlaut():
    assert pinyin_input.candidates("wang", first=True).chars[0] == "王"
    assert pinyin_input.candidates("zh", first=True).chars[0] == "张"
    assert pinyin_input.candidates("lv", first=True).chars[0] == "吕"
    xiu = pinyin_input.candidates("xiu").chars
    assert "秀" in xiu[:8] and xiu.index("秀") < xiu.index("臭")  # 臭 reads xiù only rarely
    assert pinyin_input.candidates("zzz").chars == ()


class _Done:
    returncode = 0


def _fake_espeak(calls: list):
    def run(argv, **_kw):
        calls.append(argv)
        Path(argv[argv.index("-w") + 1]).write_bytes(b"RIFF" + b"\0" * 100)
        return _Done()
    return run


def test_voice_renders_each_prompt_once_and_plays_without_blocking(tmp_path):
    from kiosk.screens.voice import Voice

    calls, played = [], []
    voice = Voice(tmp_path, espeak="/usr/bin/espeak-ng", run=_fake_espeak(calls),
                  player=lambda: played.append)
    voice.prepare([("zh_CN", "请张嘴"), ("zh_CN", "请张嘴"), ("en", "Open your mouth")])
    voice.say("liveness.cue", "zh_CN", "请张嘴")
    deadline = time.monotonic() + 5
    while not played and time.monotonic() < deadline:
        time.sleep(0.01)
    assert played == [voice.path_for("zh_CN", "请张嘴")]
    assert len(calls) == 2 and calls[0][calls[0].index("-v") + 1] == "cmn"
    assert voice.spoken == ["liveness.cue"]
    voice.close()


def test_voice_without_espeak_is_silent(tmp_path):
    from kiosk.screens.voice import Voice

    voice = Voice(tmp_path, espeak="", run=lambda *a, **k: pytest.fail("ran"), player=lambda: pytest.fail("mixer"))
    voice.say("liveness.cue", "zh_CN", "请张嘴")
    assert not voice.enabled and voice.spoken == []


@pytest.fixture(scope="module")
def engine():
    from kiosk.liveness import FaceEngine, LivenessSettings, ModelError

    try:
        return FaceEngine.load(LivenessSettings())
    except ModelError as exc:
        pytest.skip(str(exc))


def test_face_check_passes_cues_to_the_camera_only_when_the_screen_shows_them(engine):
    from kiosk.liveness import LivenessSettings
    from simulators.camera import SyntheticCamera

    camera = SyntheticCamera(realtime=False, seed=3)
    check = FaceCheck(camera, LivenessSettings(), engine=lambda _s: engine)
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("verdict", check.run()))
    worker.start()
    cues = 0
    while worker.is_alive():  # what the screen does each frame
        for ev in check.poll():
            if ev.kind == "cue":
                assert len(camera.subject.cues_seen) == cues  # the worker waited for the screen
                check.shown(ev)
                cues += 1
        time.sleep(0.001)
    verdict = result["verdict"]
    assert verdict.live and len(verdict.captures) == 4 and cues == len(camera.subject.cues_seen) >= 3
    pictures = FacePictures(verdict.captures)
    roles = [p["role"] for p in pictures.for_submission()]
    assert roles == ["liveness_1", "liveness_2", "liveness_3", "liveness_4"]
    assert base64.b64decode(pictures.for_verify()[0]["jpeg_b64"])[:3] == b"\xff\xd8\xff"
    pictures.drop()
    assert len(pictures) == 0 and "jpeg" not in repr(pictures)
    camera.close()


def test_a_face_check_nobody_watches_can_be_cancelled(engine):
    from kiosk.liveness import LivenessSettings
    from simulators.camera import SyntheticCamera

    camera = SyntheticCamera(realtime=False, seed=4)
    check = FaceCheck(camera, LivenessSettings(), engine=lambda _s: engine)
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("verdict", check.run()))
    worker.start()
    deadline = time.monotonic() + 30
    while not any(e.kind == "cue" for e in check.poll()):  # the first cue: the worker now waits
        assert time.monotonic() < deadline
        time.sleep(0.005)
    check.cancel()
    worker.join(10)
    assert result["verdict"].result == "cancelled" and check.frame() is None
    camera.close()


def test_certification_data_on_behalf_of_a_family_member():
    live = LivenessSummary(True, 3, 12_000)
    data = certification_data("local", live, Assurance("face_match", verification_id="FV-0123456789ABCDEF"),
                              Person("610113197410120092", "钱多多"), "parent")
    assert data == {"residence": "local", "liveness": {"passed": True, "challenge": "mouth_open_x3",
                                                       "duration_ms": 12000},
                    "assurance": {"method": "face_match", "verification_id": "FV-0123456789ABCDEF"},
                    "on_behalf_of": {"relation": "parent",
                                     "operator": {"id_number": "610113197410120092", "name": "钱多多"}}}
    assert certification_data("abroad", live, None)["assurance"] == {"method": "none"}
    assert "钱多多" not in repr(Person("610113197410120092", "钱多多"))


def test_voice_keeps_only_the_last_prompts_it_spoke(tmp_path):
    from kiosk.screens.voice import SPOKEN_KEPT, Voice

    voice = Voice(tmp_path, espeak="/usr/bin/espeak-ng", run=_fake_espeak([]), player=lambda: None)
    for i in range(SPOKEN_KEPT + 50):
        voice._play(f"prompt.{i}", tmp_path / "x.wav")
    assert len(voice.spoken) == SPOKEN_KEPT and voice.spoken[-1] == f"prompt.{SPOKEN_KEPT + 49}"
