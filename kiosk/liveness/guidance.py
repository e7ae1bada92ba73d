"""From measures to the one instruction the citizen should hear now, most important first."""

from __future__ import annotations

from kiosk.liveness.measures import FaceMeasures
from kiosk.liveness.settings import LivenessSettings


def guidance_key(m: FaceMeasures | None, faces: int, speed: float, frame_luma: float,
                 s: LivenessSettings) -> str:
    """`faces` is the latest detector count; `speed` face widths per second (smoothed)."""
    if m is None:
        return "too_dark" if frame_luma < s.min_luma else "no_face"
    if faces > 1:
        return "several_faces"
    if m.luma < s.min_luma:
        return "too_dark"
    if m.face_frac < s.min_face_frac:
        return "move_closer"
    if m.face_frac > s.max_face_frac:
        return "move_back"
    if abs(m.centre_dx) > s.max_centre_offset or abs(m.centre_dy) > s.max_centre_offset:
        return "centre_face"
    if abs(m.yaw_deg) > s.max_yaw_deg or abs(m.pitch_deg) > s.max_pitch_deg \
            or abs(m.roll_deg) > s.max_roll_deg:
        return "face_camera"
    if speed > s.max_speed:
        return "hold_still"
    return "ok"


def frontal(m: FaceMeasures, s: LivenessSettings) -> bool:
    return abs(m.yaw_deg) <= s.frontal_deg and abs(m.pitch_deg) <= s.frontal_deg
