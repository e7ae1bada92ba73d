"""Memory across citizen sessions: what a session used is freed when it ends, by reference counting
alone. The tests run with the cyclic garbage collector off: on the kiosk a full collection is rare
(its threshold grows with every long-lived object), so whatever only a collection would free piles
up journey after journey (`service.rss_growth_mb` measured 24 MB over 50 pension journeys)."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from contextlib import contextmanager

import pytest

from kiosk.runtime.workers import Workers
from tests.ui.harness import make_harness


@contextmanager
def no_cyclic_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Result:
    """Stands for what a job returns (a verdict with pictures, a card's holder data)."""


def _slow_result(gate):
    gate.wait(5)
    return Result()


def _finish(workers, job, gate):
    """Let a job finish after its done-callback is registered (as any job that takes time)."""
    gate.set()
    job.future.result(timeout=5)
    time.sleep(0.05)  # the callback has run


def test_a_delivered_job_and_its_result_are_freed_without_a_collection():
    workers = Workers(1)
    try:
        with no_cyclic_gc():
            gate = threading.Event()
            job = workers.submit("x", _slow_result, gate, on_done=lambda j: None)
            _finish(workers, job, gate)
            assert workers.poll() == [job]
            result = weakref.ref(job.result())
            del job
            assert result() is None
    finally:
        workers.close()


def test_a_dropped_session_frees_its_finished_jobs_without_a_collection():
    workers = Workers(1)
    try:
        with no_cyclic_gc():
            gate = threading.Event()
            job = workers.submit("x", _slow_result, gate, session=7)
            _finish(workers, job, gate)
            result = weakref.ref(job.result())
            del job
            assert workers.drop_session(7) == 1
            assert result() is None
            assert workers.poll() == []
    finally:
        workers.close()


@pytest.fixture
def h(tmp_path):
    harness = make_harness(tmp_path)
    yield harness
    harness.close()


def test_screens_that_leave_the_stack_are_freed_without_a_collection(h):
    """Screens whose buttons call back into them (keypads, tiles): replaced, popped, or dropped when
    the session ends, each is gone at once."""
    from kiosk.screens import flows

    ui = h.ui
    with no_cyclic_gc():
        home = ui.screen
        h.tap_button("lang")  # a session begins
        first = flows.IdEntryScreen(ui, lambda _id: None)
        ui.show(first)
        h.type("110")
        second = flows.IdEntryScreen(ui, lambda _id: None)
        ui.show(second, replace=True)
        third = flows.IdEntryScreen(ui, lambda _id: None)
        ui.show(third)
        h.frame()
        refs = {"replaced": weakref.ref(first), "popped": weakref.ref(third), "ended": weakref.ref(second),
                "old home": weakref.ref(home)}
        del first, second, third, home
        ui.back()
        h.frame()
        ui.go_home("finish")
        h.frame()
        assert ui.screen.name == "home"
        assert [name for name, ref in refs.items() if ref() is not None] == []


def test_a_face_check_leaves_no_screen_frame_or_picture_behind(tmp_path):
    """Liveness on the synthetic camera, the four pictures, then the citizen leaves: the liveness
    screen (preview and scrim, 8 MB at 1080p), its last camera frame, the pictures' surfaces and
    JPEGs are all gone at once, and a second journey does not keep the first one's."""
    from kiosk.flows.face import FaceSteps
    from kiosk.flows.steps import info
    from kiosk.hw.camera_synthetic import SyntheticCameraAdapter
    from kiosk.liveness import LivenessSettings, ModelError
    from kiosk.screens.flow_host import start_flow
    from kiosk.services.face_check import face_engine
    from simulators.camera import SyntheticCamera

    h = make_harness(tmp_path)
    camera = SyntheticCameraAdapter(SyntheticCamera(realtime=False, seed=3))
    h.ui.services.devices.camera = camera
    try:
        try:
            face_engine(LivenessSettings.from_config(h.ui.services.cfg))
        except ModelError as exc:
            pytest.skip(str(exc))
        for _journey in range(2):
            with no_cyclic_gc():
                h.ui.sessions.begin(h.clock.monotonic())
                class Capture(FaceSteps):  # the face check alone, as every face flow starts it
                    service_id = "pension_auth"

                    def start(self):
                        return self.capture("consent.body_self", "110105195803120029", "王秀英", offline_ok=True,
                                            ask_consent=False)

                    def face_checked(self, match):
                        return info("consent.declined.title", "")

                start_flow(h.ui, Capture)
                liveness = h.ui.screen
                assert liveness.name == "liveness"
                deadline = time.monotonic() + 120
                while h.ui.screen.name != "pictures":
                    assert time.monotonic() < deadline, h.ui.screen.name
                    h.frame()
                    time.sleep(0.002)
                h.frame()
                pictures = h.ui.screen
                assert len(pictures.images) == 4
                refs = {"liveness screen": weakref.ref(liveness), "face check": weakref.ref(liveness.check),
                        "pictures screen": weakref.ref(pictures),
                        "picture surface": weakref.ref(pictures.images[0]),
                        "face pictures": weakref.ref(pictures.pictures)}
                del liveness, pictures
                h.ui.go_home("finish")  # the citizen leaves at the pictures
                h.frame()
                alive = [name for name, ref in refs.items() if ref() is not None]
                assert alive == []
    finally:
        h.close()
        camera.close()



class Cyclic:
    def __init__(self) -> None:
        self.me = self


def test_what_a_session_left_in_reference_cycles_is_collected_once_home_is_drawn(h):
    """Flows keep the citizen's case in closures that refer to themselves (a retry calls the step
    again): only a collection frees those, so one runs on the first frame after a session ends."""
    ui = h.ui
    with no_cyclic_gc():
        h.tap_button("lang")  # a session begins
        left = weakref.ref(Cyclic())
        h.frame()
        assert left() is not None  # no collection while the session runs
        ui.go_home("finish")
        h.frame()
        assert left() is None
        later = weakref.ref(Cyclic())
        h.frame()  # one collection per session end, not one per frame
        assert later() is not None


def test_the_c_heap_is_trimmed_with_the_session_end_collection(h, monkeypatch):
    import kiosk.screens.ui as ui_module

    calls = []
    monkeypatch.setattr(ui_module, "malloc_trim", lambda: calls.append(1) or 1)
    h.tap_button("lang")  # a session begins
    h.frame()
    assert calls == []
    h.ui.go_home("finish")
    h.frame()
    h.frame()
    assert calls == [1]


def test_malloc_trim_runs_here():
    from kiosk.runtime.memory import malloc_trim as _malloc_trim

    assert _malloc_trim() in (0, 1)  # glibc: the kiosk's platform
