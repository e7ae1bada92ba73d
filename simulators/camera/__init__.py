"""Synthetic camera: a real face photo whose mouth opens when the kiosk cues, plus attack modes.

Spec strings (config key devices.camera): `synthetic`, `synthetic:FACE_OR_PATH`,
`synthetic:MODE`, or comma-separated items such as `synthetic:astronaut,mode=replay,fps=20,seed=3`.
Placement options drive the guidance states: scale=0.4 (move closer), scale=1.8 (move back),
dx=0.3 (centre your face), roll=35 (face the camera), shake=40 (hold still), mode=dark, ...
`qr=TEXT` (last, as TEXT may hold anything but a comma) has the subject hold up a phone showing a
QR code of TEXT (an e-card token); SyntheticCamera.show_qr(text) changes it at run time.

The kiosk opens it through its own adapter, kiosk/hw/camera_synthetic.py; nothing here imports
the kiosk.
"""

from __future__ import annotations

from typing import Any

from simulators.camera.camera import CameraStatus, SyntheticCamera, SyntheticFrame
from simulators.camera.subject import MODES

__all__ = ["MODES", "CameraStatus", "SyntheticCamera", "SyntheticFrame", "open_camera", "parse_spec"]


def parse_spec(spec: str) -> dict[str, Any]:
    """`synthetic[:item,...]` -> SyntheticCamera keyword arguments."""
    head, _, rest = spec.partition(":")
    if head != "synthetic":
        raise ValueError(f"not a synthetic camera spec: {spec!r}")
    kwargs: dict[str, Any] = {}
    for item in filter(None, (i.strip() for i in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            if item in MODES:
                kwargs["mode"] = item
            else:
                kwargs["face"] = item
            continue
        if key in ("fps", "scale", "dx", "dy", "roll", "shake", "qr_side", "qr_tilt"):
            kwargs[key] = float(value)
        elif key in ("seed",):
            kwargs[key] = int(value)
        elif key == "realtime":
            kwargs[key] = value.lower() in ("1", "true", "yes", "on")
        elif key == "size":
            w, _, h = value.partition("x")
            kwargs[key] = (int(w), int(h))
        elif key in ("mode", "face", "qr"):
            kwargs[key] = value
        else:
            raise ValueError(f"unknown synthetic camera option {key!r} in {spec!r}")
    return kwargs


def open_camera(spec: str) -> SyntheticCamera:
    """A camera from a spec string; on the real clock unless the spec says realtime=0."""
    kwargs = {"realtime": True, **parse_spec(spec)}
    return SyntheticCamera(**kwargs)
