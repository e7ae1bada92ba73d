"""Every tunable of the liveness pipeline as one frozen value, with documented defaults.

`from_config` reads the `liveness.*` keys from the kiosk configuration; keys the schema does not
(yet) define fall back to these defaults, so the pipeline also runs from a bare Config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class LivenessSettings:
    # runtime
    model_dir: str = ""  # empty: models/ in the source tree, /usr/share/kiosk/models, ~/.cache/kiosk-models
    threads: int = 2
    # detector and tracker
    detect_score: float = 0.5  # minimum detector score (after sigmoid)
    nms_iou: float = 0.3
    presence_score: float = 0.5  # landmark face-presence below this drops the track
    detect_interval_s: float = 1.0  # while tracking, look for other faces this often
    # challenge
    attempts: int = 3
    attempt_timeout_s: float = 30.0
    openings: int = 3
    cue_delay_min_s: float = 1.0  # randomised pause before each cue ...
    cue_delay_max_s: float = 4.0  # ... so a recorded video cannot follow
    response_min_s: float = 0.2  # an opening starting sooner than this after a cue is not a reaction
    response_max_s: float = 1.6  # ... nor one starting later than this
    ready_s: float = 0.5  # guidance must be ok this long before the first cue
    mouth_closed: float = 0.10  # mouth ratio |p13-p14|/|p78-p308| below this: closed
    mouth_open: float = 0.30  # above this: open
    mouth_open_margin: float = 0.20  # open also needs baseline + this (smiling faces)
    mouth_closed_margin: float = 0.07  # closed also accepts baseline + this
    open_frames: int = 3  # consecutive frames to confirm an opening
    closed_frames: int = 2  # consecutive frames to confirm the mouth closed again
    # guidance
    min_face_frac: float = 0.22  # face width / frame width below this: move closer
    max_face_frac: float = 0.60  # above this: move back
    max_centre_offset: float = 0.22  # face centre offset (fraction of frame size): centre your face
    max_yaw_deg: float = 20.0
    max_pitch_deg: float = 20.0
    max_roll_deg: float = 25.0
    frontal_deg: float = 12.0  # pictures are taken only within this yaw/pitch
    min_luma: float = 45.0  # mean face luma (0-255) below this: too dark
    max_speed: float = 0.8  # face-widths per second above this: hold still
    # presentation-attack checks
    replay_unsolicited: int = 2  # openings not following a cue before the replay check fires
    still_mouth_range: float = 0.06  # mouth ratio range (p2-p98) below this is no real mouth motion
    still_eye_dip: float = 0.12  # deepest eyelid closing (1 - min/median eye ratio) below this: no blink
    face_change_ncc: float = 0.55  # pictures whose upper-face correlation falls below this differ
    jpeg_quality: int = 90

    @classmethod
    def from_config(cls, cfg: Any) -> LivenessSettings:
        values = cfg if isinstance(cfg, Mapping) else getattr(cfg, "values", None) or {}
        found = {f.name: values[f"liveness.{f.name}"] for f in fields(cls)
                 if f"liveness.{f.name}" in values}
        return cls(**found)

    def with_(self, **changes: Any) -> LivenessSettings:
        return replace(self, **changes)
