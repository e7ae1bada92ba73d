"""The mouth challenge: cues at random moments, openings confirmed with hysteresis, and only an
opening that starts within the response window after a cue counts; others are 'unsolicited'.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from kiosk.liveness.events import Cue, CueMissed, Event, OpeningConfirmed
from kiosk.liveness.settings import LivenessSettings

CONFIRM_GRACE_S = 1.0  # an opening that started in time may take this much longer to confirm


def percentile(values: Iterable[float], q: float) -> float:
    """np.percentile(values, q) with its default linear method, for the few dozen values kept
    per frame: the same arithmetic (numpy's index and lerp), so the same float, at about 1/60 of
    numpy's per-call cost, which showed up in every frame's time."""
    return sorted_percentile(sorted(values), q)


def sorted_percentile(a: list[float], q: float) -> float:
    """percentile() of values already sorted."""
    if not a:
        raise ValueError("percentile of no values")
    quantile = q / 100
    index = (len(a) - 1) * quantile
    lo = math.floor(index)
    x, y = a[lo], a[min(lo + 1, len(a) - 1)]
    gamma, diff = index - lo, y - x
    return y - diff * (1 - gamma) if gamma >= 0.5 else x + diff * gamma


@dataclass
class MouthState:
    """Hysteresis on the mouth ratio, relative to the subject's own resting ratio (smiles)."""

    is_open: bool = False
    onset: float | None = None  # when the ratio first left 'closed' on the way up
    above: int = 0
    below: int = 0
    peak: float = 0.0


class Challenge:
    def __init__(self, s: LivenessSettings, rng: random.Random) -> None:
        self.s, self.rng = s, rng
        self.mouth = MouthState()
        self._rest: deque[float] = deque(maxlen=45)
        # the same values kept sorted as they come and go (a sort of all 45 each frame showed in
        # the frame's time); NaN has no place in a sorted list, so with one in the window the
        # window is sorted as before
        self._rest_sorted: list[float] = []
        self._rest_nans = 0
        self._set_baseline(0.0)
        self.state = "waiting"  # waiting -> scheduled -> cued -> opening -> scheduled ... -> done
        self._ready_since: float | None = None
        self.cue_due = 0.0
        self.cue_t: float | None = None
        self.cues = 0
        self.done_openings = 0
        self.unsolicited = 0
        self.closed_now = False  # an accepted opening closed in this step
        self.opened_now = False  # an accepted opening was confirmed in this step

    # -- mouth hysteresis ------------------------------------------------------------------------
    @property
    def baseline(self) -> float:
        """The resting mouth ratio: a low percentile of the last 3 s, so an opening in progress
        does not drag it up."""
        return self._baseline

    def _remember(self, ratio: float) -> None:
        """Append to the resting window, dropping its oldest value when full, in both orders."""
        rest = self._rest
        if len(rest) == rest.maxlen:
            old = rest[0]
            if old != old:
                self._rest_nans -= 1
            else:
                del self._rest_sorted[bisect_left(self._rest_sorted, old)]
        rest.append(ratio)
        if ratio != ratio:
            self._rest_nans += 1
        else:
            insort(self._rest_sorted, ratio)

    def _set_baseline(self, baseline: float) -> None:
        """The thresholds follow from the baseline and the (frozen) settings alone: worked out
        when it changes, not each time they are read (several times a frame)."""
        self._baseline = baseline
        self._closed_threshold = max(self.s.mouth_closed, baseline + self.s.mouth_closed_margin)
        self._open_threshold = max(self.s.mouth_open, baseline + self.s.mouth_open_margin)

    @property
    def closed_threshold(self) -> float:
        return self._closed_threshold

    @property
    def open_threshold(self) -> float:
        return self._open_threshold

    def _mouth(self, t: float, ratio: float | None) -> str:
        """'opened' / 'closed' transitions, or ''."""
        m = self.mouth
        if ratio is None:
            self.mouth = MouthState()
            return ""
        if not m.is_open:
            self._remember(ratio)
            if len(self._rest) >= 10:
                baseline = sorted_percentile(sorted(self._rest) if self._rest_nans else self._rest_sorted, 30)
                if baseline != self._baseline:  # mostly the same from one frame to the next
                    self._set_baseline(baseline)
            if ratio <= self._closed_threshold:
                m.onset, m.above = None, 0
                return ""
            if m.onset is None:
                m.onset = t
            m.above = m.above + 1 if ratio > self._open_threshold else 0
            if m.above >= self.s.open_frames:
                m.is_open, m.below, m.peak = True, 0, ratio
                return "opened"
            return ""
        m.peak = max(m.peak, ratio)
        m.below = m.below + 1 if ratio < self._closed_threshold else 0
        if m.below >= self.s.closed_frames:
            self.mouth = MouthState()
            return "closed"
        return ""

    # -- cues -----------------------------------------------------------------------------------
    def _schedule(self, t: float) -> None:
        self.state = "scheduled"
        self.cue_due = t + self.rng.uniform(self.s.cue_delay_min_s, self.s.cue_delay_max_s)

    def step(self, t: float, ratio: float | None, ok: bool) -> list[Event]:
        out: list[Event] = []
        self.closed_now = self.opened_now = False
        change = self._mouth(t, ratio)
        if change == "opened":
            onset = self.mouth.onset if self.mouth.onset is not None else t
            latency = onset - self.cue_t if self.cue_t is not None else -1.0
            if self.state == "cued" and self.s.response_min_s <= latency <= self.s.response_max_s:
                self.state = "opening"
                self.opened_now = True
                out.append(OpeningConfirmed(t, self.done_openings + 1, self.s.openings, round(latency, 3)))
            else:
                self.unsolicited += 1
                self.mouth.onset = None
        elif change == "closed" and self.state == "opening":
            self.done_openings += 1
            self.closed_now = True
            if self.done_openings >= self.s.openings:
                self.state = "done"
            else:
                self._schedule(t)
        if self.state == "waiting":
            if ok:
                self._ready_since = t if self._ready_since is None else self._ready_since
                if t - self._ready_since >= self.s.ready_s:
                    self._schedule(t)
            else:
                self._ready_since = None
        elif self.state == "scheduled":
            if not ok:
                self.state, self._ready_since = "waiting", None
            elif t >= self.cue_due and not self.mouth.is_open and self.mouth.onset is None:
                self.state, self.cue_t = "cued", t
                self.cues += 1
                out.append(Cue(t, self.done_openings + 1, self.s.openings))
        elif self.state == "cued" and self.cue_t is not None:
            late = t - self.cue_t > self.s.response_max_s
            started = self.mouth.onset is not None and self.mouth.onset - self.cue_t <= self.s.response_max_s
            if late and (not started or t - self.cue_t > self.s.response_max_s + CONFIRM_GRACE_S):
                out.append(CueMissed(t, self.done_openings + 1))
                self.cue_t = None
                if ok:
                    self._schedule(t)
                else:
                    self.state, self._ready_since = "waiting", None
        return out

    @property
    def started(self) -> bool:
        """The first cue has been given."""
        return self.cues > 0

    @property
    def done(self) -> bool:
        return self.state == "done"
