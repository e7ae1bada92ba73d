"""How the synthetic person (or attacker) behaves over time: mouth openings, blinks, head motion.

A genuine subject opens the mouth only when shown a cue, after a human reaction delay; the attack
modes ignore cues (a photo never moves its mouth; a replayed video opens it on its own schedule).
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass

MODES = ("genuine", "unresponsive", "still", "replay", "noface", "twofaces", "dark", "swap", "leave")
RESPONDS = {"genuine", "dark", "swap", "leave"}
BLINKS = {"genuine", "unresponsive", "replay", "twofaces", "dark", "swap", "leave"}
LEAVE_S = 1.0  # 'leave': after the first opening the person steps out of view this long
RAMP_UP_S, RAMP_DOWN_S = 0.15, 0.2


@dataclass(frozen=True)
class Opening:
    start: float
    peak: float  # 0..1 of the full jaw drop
    hold: float

    def level(self, t: float) -> float:
        dt = t - self.start
        if dt < 0:
            return 0.0
        if dt < RAMP_UP_S:
            return self.peak * dt / RAMP_UP_S
        dt -= RAMP_UP_S
        if dt < self.hold:
            return self.peak
        dt -= self.hold
        return self.peak * max(0.0, 1.0 - dt / RAMP_DOWN_S)

    @property
    def end(self) -> float:
        return self.start + RAMP_UP_S + self.hold + RAMP_DOWN_S


@dataclass(frozen=True)
class Pose:
    dx: float
    dy: float
    angle_deg: float
    scale: float


class Subject:
    def __init__(self, mode: str, start: float, seed: int = 0,
                 reaction_s: tuple[float, float] = (0.35, 0.9),
                 replay_period_s: float = 3.1, roll_deg: float = 0.0, shake_px: float = 0.0) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        self.mode, self.start = mode, start
        self.rng = random.Random(seed)
        self.reaction_s = reaction_s
        self.openings: list[Opening] = []
        self.cues_seen: list[float] = []
        self._lock = threading.Lock()
        if mode == "replay":  # a recording of someone opening the mouth on a fixed rhythm
            first = start + self.rng.uniform(1.5, 3.0)
            self.openings = [Opening(first + k * replay_period_s, 0.95, 0.7) for k in range(200)]
        self.blinks: list[float] = []
        t = start + self.rng.uniform(0.5, 2.0)
        while t < start + 600:
            self.blinks.append(t)
            t += self.rng.uniform(2.0, 5.0)
        self._phase = [self.rng.uniform(0, 2 * math.pi) for _ in range(4)]
        self.swap_at: float | None = None
        self.roll_deg, self.shake_px = roll_deg, shake_px  # for guidance states: tilted head, shaking

    def on_cue(self, now: float) -> None:
        """The subject saw (or heard) 'open your mouth' at time `now`."""
        with self._lock:
            self.cues_seen.append(now)
            if self.mode not in RESPONDS:
                return
            if self.openings and self.openings[-1].end > now:
                return  # still busy with the previous opening
            delay = self.rng.uniform(*self.reaction_s)
            self.openings.append(Opening(now + delay, self.rng.uniform(0.8, 1.0), self.rng.uniform(0.45, 0.9)))
            if self.mode in ("swap", "leave") and self.swap_at is None:
                self.swap_at = self.openings[-1].end + 0.3

    def mouth(self, t: float) -> float:
        with self._lock:
            return max((o.level(t) for o in self.openings if o.start <= t <= o.end), default=0.0)

    def blink(self, t: float) -> float:
        if self.mode not in BLINKS:
            return 0.0
        for b in self.blinks:
            if b <= t <= b + 0.2:
                return 1.0 - abs((t - b) - 0.1) / 0.1
            if b > t:
                break
        return 0.0

    def face_index(self, t: float) -> int:
        """Which photo is in front of the camera (the swap attack changes it mid-challenge)."""
        return 1 if self.mode == "swap" and self.swap_at is not None and t >= self.swap_at else 0

    def away(self, t: float) -> bool:
        """'leave' mode: out of view for a moment after the first opening."""
        return self.mode == "leave" and self.swap_at is not None and self.swap_at <= t < self.swap_at + LEAVE_S

    def pose(self, t: float) -> Pose:
        """Head sway for a person; larger, quicker, rigid hand tremor for a held photo."""
        p, u = self._phase, t - self.start
        amp, rot, freq = (6.0, 1.6, 0.7) if self.mode == "still" else (3.0, 0.8, 0.25)
        shake = self.shake_px * math.sin(2 * math.pi * 1.5 * u)
        return Pose(dx=amp * math.sin(2 * math.pi * freq * u + p[0]) + self.rng.gauss(0, 0.3) + shake,
                    dy=amp * 0.6 * math.sin(2 * math.pi * freq * 1.3 * u + p[1]) + self.rng.gauss(0, 0.3),
                    angle_deg=self.roll_deg + rot * math.sin(2 * math.pi * freq * 0.8 * u + p[2]),
                    scale=1.0 + 0.01 * math.sin(2 * math.pi * freq * 0.5 * u + p[3]))
