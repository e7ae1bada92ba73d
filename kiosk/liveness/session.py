"""One citizen's liveness check: feed frames, get events, end with a Verdict.

Drive it from a worker thread: `events = session.feed(frame)` for each camera frame, show or speak
the events, and pass every `Cue` to whatever renders it (the synthetic camera listens there).
All timing comes from frame timestamps, so tests run a 30-second timeout in virtual time.
"""

from __future__ import annotations

import logging
import math
import random
import secrets

from kiosk.hw.ports import Frame
from kiosk.liveness import checks
from kiosk.liveness.captures import SLOTS, Candidate, CaptureSet, slot_for
from kiosk.liveness.challenge import Challenge
from kiosk.liveness.events import (
    AttemptFailed,
    AttemptStarted,
    Capture,
    CheckFired,
    Cue,
    Event,
    Finished,
    Guidance,
    Verdict,
)
from kiosk.liveness.guidance import frontal, guidance_key
from kiosk.liveness.measures import FaceMeasures, face_descriptor, measure
from kiosk.liveness.settings import LivenessSettings
from kiosk.liveness.tracker import FaceEngine, FaceTracker, Observation

log = logging.getLogger(__name__)

BLOCKERS = ("no_face", "several_faces", "too_dark")
GUIDANCE_FRAMES = 2  # a new instruction must hold this many frames before it is shown
SETTLE_FRAMES = 2  # a new track's first meshes come from the coarser detector box: not recorded


class LivenessSession:
    def __init__(self, engine: FaceEngine, settings: LivenessSettings | None = None,
                 rng: random.Random | None = None) -> None:
        self.s = settings or LivenessSettings()
        self.engine = engine
        self.rng = rng or random.Random(secrets.randbits(64))  # cue times nobody can predict
        self.tracker = FaceTracker(engine, self.s)
        self.attempt = 0
        self.verdict: Verdict | None = None
        self.last_measures: FaceMeasures | None = None
        self.guidance = ""
        self._fired: list[CheckFired] = []
        self._t0: float | None = None
        self._attempt_t0 = 0.0
        self._pending_key, self._pending_n = "", 0
        self._faces = 0
        self._speed = 0.0
        self._track_age = 0
        self._challenge: Challenge
        self._captures: CaptureSet
        self._record: checks.AttemptRecord

    # -- public -----------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.verdict is not None

    def remaining_s(self, t: float) -> float:
        """Seconds left in the current attempt at frame time t (for the on-screen countdown)."""
        if not self.attempt:
            return self.s.attempt_timeout_s
        return max(0.0, self.s.attempt_timeout_s - (t - self._attempt_t0))

    @property
    def openings(self) -> int:
        return self._challenge.done_openings if self.attempt else 0

    def cancel(self, t: float) -> Verdict:
        if self.verdict is None:
            self._finish(t, "cancelled", "cancelled", [])
        assert self.verdict is not None
        return self.verdict

    def diagnostics(self) -> dict[str, float]:
        """The current attempt's raw check inputs (for tuning and `kiosk liveness eval`)."""
        out: dict[str, float] = {"unsolicited": float(self._challenge.unsolicited) if self.attempt else 0.0}
        stats = checks.still_stats(self._record) if self.attempt else None
        if stats:
            out["mouth_range"], out["eye_dip"] = stats
        pictures = self._captures.candidates() if self.attempt else []
        if len(pictures) > 1:
            out["min_ncc"] = checks.min_ncc(pictures)[0]
        return out

    def feed(self, frame: Frame) -> list[Event]:
        if self.verdict is not None:
            return []
        t = frame.timestamp
        out: list[Event] = []
        if self.attempt == 0:
            self._t0 = t
            self._start_attempt(t, out)
        obs = self.tracker.update(frame.rgb, t)
        m = measure(obs.mesh, frame.rgb.shape, t) if obs.mesh is not None else None
        self._update_motion(obs, m)
        if obs.faces is not None:
            self._faces = obs.faces
        luma = float(frame.rgb[::16, ::16].mean()) if m is None else m.luma
        key = guidance_key(m, self._faces, self._speed, luma, self.s)
        self._guide(t, key, out)
        self.last_measures = m
        rec = self._record
        rec.frames += 1
        if key in BLOCKERS:
            rec.blockers[key] = rec.blockers.get(key, 0) + 1
        self._track_age = 0 if obs.new_track or obs.mesh is None else self._track_age + 1
        if m is not None and self._track_age >= SETTLE_FRAMES:
            rec.mouth.append(m.mouth_ratio)
            rec.eyes.append(m.eye_ratio)
        ch = self._challenge
        if ch.started and not ch.done and (obs.mesh is None or obs.new_track):
            self._fire(t, "track_broken", f"openings_before={ch.done_openings}", out)
            self._reset_challenge(keep_evidence=True)
            ch = self._challenge
        out += ch.step(t, m.mouth_ratio if m else None, self.guidance == "ok")
        if m is not None and obs.mesh is not None:
            self._offer_picture(frame, obs, m, out)
        if out and ch.cues == 1 and any(isinstance(e, Cue) for e in out):
            self._close_slot(t, 0, out)
        if ch.closed_now and ch.done_openings == 1:
            self._close_slot(t, 1, out)
        if ch.opened_now and ch.done_openings == self.s.openings - 1:
            self._close_slot(t, 2, out)
        detail = checks.replay(ch.unsolicited, self.s)
        if detail:
            self._fire(t, "replay", detail, out)
            self._finish(t, "spoof", "replay", out)
        elif ch.done:
            self._close_slot(t, 3, out)
            self._succeed(t, out)
        elif t - self._attempt_t0 >= self.s.attempt_timeout_s:
            self._timeout(t, out)
        return out

    # -- attempts ---------------------------------------------------------------------------------
    def _start_attempt(self, t: float, out: list[Event]) -> None:
        self.attempt += 1
        self._attempt_t0 = t
        self._record = checks.AttemptRecord()
        self._reset_challenge()
        self.guidance, self._pending_key, self._pending_n = "", "", 0
        out.append(AttemptStarted(t, self.attempt, self.s.attempts, self.s.attempt_timeout_s))
        log.info("event=liveness_attempt attempt=%d of=%d", self.attempt, self.s.attempts)

    def _reset_challenge(self, keep_evidence: bool = False) -> None:
        """A fresh challenge; after a track break the unsolicited openings still count, so that
        breaking the track cannot wipe a replay's record."""
        unsolicited = self._challenge.unsolicited if keep_evidence else 0
        self._challenge = Challenge(self.s, self.rng)
        self._challenge.unsolicited = unsolicited
        self._captures = CaptureSet()

    def _timeout(self, t: float, out: list[Event]) -> None:
        rec, ch = self._record, self._challenge
        blocker = max(rec.blockers, key=rec.blockers.__getitem__, default="")
        reason = blocker if blocker and rec.blockers[blocker] > 0.5 * rec.frames else "timeout"
        # Judge a still photo only when it was asked to move (cued) and never did.
        detail = checks.still_photo(rec, self.s) \
            if reason == "timeout" and ch.cues >= 2 and ch.done_openings == 0 else None
        if detail:
            self._fire(t, "still_photo", detail, out)
            self._finish(t, "spoof", "still_photo", out)
            return
        left = self.s.attempts - self.attempt
        out.append(AttemptFailed(t, self.attempt, reason, left))
        log.info("event=liveness_attempt_failed attempt=%d reason=%s left=%d", self.attempt, reason, left)
        if left > 0:
            self._start_attempt(t, out)
        else:
            self._finish(t, "referred" if self.s.attempts > 1 else reason, reason, out)

    def _succeed(self, t: float, out: list[Event]) -> None:
        pictures = self._captures.candidates()
        detail = checks.face_changed(pictures, self.s)
        if detail:
            self._fire(t, "face_changed", detail, out)
            self._finish(t, "spoof", "face_changed", out)
            return
        self._finish(t, "live", "", out, self._captures.jpegs(self.s.jpeg_quality))

    def _finish(self, t: float, result: str, reason: str, out: list[Event],
                captures: tuple[bytes, ...] = ()) -> None:
        names = tuple(dict.fromkeys(c.check for c in self._fired))
        self.verdict = Verdict(result, reason, names, self.openings, captures, self.attempt,
                               t - (self._t0 if self._t0 is not None else t), tuple(self._fired))
        out.append(Finished(t, self.verdict))
        log.info("event=liveness_verdict result=%s reason=%s checks=%s openings=%d attempts=%d",
                 result, reason or "-", ",".join(names) or "-", self.openings, self.attempt)

    def _fire(self, t: float, check: str, detail: str, out: list[Event]) -> None:
        ev = CheckFired(t, check, self.attempt, detail)
        self._fired.append(ev)
        out.append(ev)
        log.warning("event=liveness_check check=%s attempt=%d %s", check, self.attempt, detail)

    # -- per frame --------------------------------------------------------------------------------
    def _guide(self, t: float, key: str, out: list[Event]) -> None:
        if key == self.guidance:
            self._pending_key, self._pending_n = "", 0
            return
        self._pending_n = self._pending_n + 1 if key == self._pending_key else 1
        self._pending_key = key
        if self._pending_n >= GUIDANCE_FRAMES or not self.guidance:
            self.guidance = key
            out.append(Guidance(t, key))

    def _update_motion(self, obs: Observation, m: FaceMeasures | None) -> None:
        prev = self.last_measures
        if m is None or obs.new_track or prev is None or m.t <= prev.t:
            self._speed = 0.0
        else:
            width = max(m.box[2] - m.box[0], 1.0)
            # math.hypot, not np.hypot: the same distance (within an ulp) without numpy's per-call
            # cost on two Python floats
            step = math.hypot((m.box[0] + m.box[2] - prev.box[0] - prev.box[2]) / 2,
                              (m.box[1] + m.box[3] - prev.box[1] - prev.box[3]) / 2) / width / (m.t - prev.t)
            self._speed = 0.7 * self._speed + 0.3 * step

    def _offer_picture(self, frame: Frame, obs: Observation, m: FaceMeasures, out: list[Event]) -> None:
        ch = self._challenge
        if self.guidance != "ok" or not frontal(m, self.s):
            return
        is_open = ch.state == "opening"
        if not is_open and (ch.mouth.is_open or m.mouth_ratio > ch.closed_threshold):
            return  # neither clearly closed nor confirmed open
        slot = slot_for(is_open, ch.done_openings, ch.started, self.s.openings)
        if slot is None:
            return
        score = m.mouth_ratio * 1000 + m.sharpness * 1e-3 if is_open else m.sharpness
        if not self._captures.wants(slot, score):
            return  # not better than the slot's picture: no need for its descriptor
        assert obs.mesh is not None
        self._captures.offer(slot, Candidate(frame.rgb, m.t, score, obs.track_id,
                                             face_descriptor(frame.rgb, obs.mesh.points),
                                             m.sharpness, m.mouth_ratio))

    def _close_slot(self, t: float, slot: int, out: list[Event]) -> None:
        if not self._captures.final[slot] and self._captures.finalise(slot):
            out.append(Capture(t, slot, SLOTS[slot]))

    def __repr__(self) -> str:
        state = self.verdict.result if self.verdict else f"attempt={self.attempt}"
        return f"<LivenessSession {state} guidance={self.guidance or '-'} openings={self.openings}>"
