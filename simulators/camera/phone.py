"""A phone held up to the camera, its screen showing a QR code (the e-card app's sign-in code).

The QR code is encoded with zxing-cpp's writer (a run-time dependency of the kiosk, used here only
to draw), drawn on a white screen in a dark phone body with the app's green title bar and a thumb
over the bottom edge, then placed in the frame with a slight tilt and a little perspective (the
phone is never held exactly square to the lens). The camera's gain and sensor noise come after,
as for the rest of the picture. Nothing here comes from the kiosk's QR reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

QUIET_MODULES = 4  # the white border a QR code needs round it
BODY = (28, 28, 32)
SCREEN = (242, 242, 238)
TITLE_BAR = (38, 160, 96)  # the app's green header
SKIN = (196, 150, 122)


def qr_modules(text: str) -> np.ndarray:
    """The QR code of `text` (byte mode, error correction M) as a bool array, True = dark."""
    import zxingcpp

    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False))
    return image < 128


@dataclass(frozen=True)
class Phone:
    """A rendered phone: RGB sprite and its mask (uint8), with the code it shows."""

    text: str
    rgb: np.ndarray
    mask: np.ndarray


def draw_phone(text: str, qr_side_px: int) -> Phone:
    """The phone face-on, the QR code (quiet zone included) `qr_side_px` wide on its screen."""
    modules = qr_modules(text)
    n = modules.shape[0] + 2 * QUIET_MODULES
    module_px = max(1, round(qr_side_px / n))
    qr = np.full((n * module_px, n * module_px), 255, np.uint8)
    dark = np.kron(modules, np.ones((module_px, module_px), bool))
    q0 = QUIET_MODULES * module_px
    qr[q0:q0 + dark.shape[0], q0:q0 + dark.shape[1]][dark] = 12
    side = qr.shape[0]
    margin, title_h = side // 12, side // 5
    screen_w, screen_h = side + 2 * margin, side + title_h + 3 * margin
    bezel = max(4, side // 20)
    w, h = screen_w + 2 * bezel, screen_h + 2 * bezel + side // 6
    rgb = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    radius = max(6, w // 9)
    _rounded(rgb, mask, (0, 0, w, h), radius, BODY)
    sx, sy = bezel, bezel + side // 12
    rgb[sy:sy + screen_h, sx:sx + screen_w] = SCREEN
    rgb[sy:sy + title_h, sx:sx + screen_w] = TITLE_BAR
    qy = sy + title_h + margin
    rgb[qy:qy + side, sx + margin:sx + margin + side] = np.repeat(qr[..., None], 3, axis=2)
    # a thumb over the bottom bezel, as the phone is held
    cv2.ellipse(rgb, (w // 4, h - bezel), (w // 7, h // 9), -20, 0, 360, SKIN, -1, cv2.LINE_AA)
    cv2.ellipse(mask, (w // 4, h - bezel), (w // 7, h // 9), -20, 0, 360, 255, -1, cv2.LINE_AA)
    return Phone(text, rgb, mask)


def _rounded(rgb: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int], r: int,
             colour: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = box
    for target, value in ((rgb, colour), (mask, 255)):
        cv2.rectangle(target, (x0 + r, y0), (x1 - 1 - r, y1 - 1), value, -1)
        cv2.rectangle(target, (x0, y0 + r), (x1 - 1, y1 - 1 - r), value, -1)
        for cx, cy in ((x0 + r, y0 + r), (x1 - 1 - r, y0 + r), (x0 + r, y1 - 1 - r), (x1 - 1 - r, y1 - 1 - r)):
            cv2.circle(target, (cx, cy), r, value, -1, cv2.LINE_AA)


def place(frame: np.ndarray, phone: Phone, centre: tuple[float, float], tilt_deg: float,
          lean: float = 0.06) -> None:
    """Composite the phone onto the frame in place: rotated by tilt_deg, its top edge `lean`
    narrower than its bottom (held tipped back a little), centred at `centre`."""
    h, w = phone.mask.shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    half_top, half_bottom = w / 2 * (1 - lean), w / 2
    quad = np.array([[-half_top, -h / 2], [half_top, -h / 2], [half_bottom, h / 2], [-half_bottom, h / 2]],
                    np.float32)
    a = math.radians(tilt_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
    dst = (quad @ rot.T + np.array(centre, np.float32)).astype(np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    size = (frame.shape[1], frame.shape[0])
    sprite = cv2.warpPerspective(phone.rgb, m, size, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(phone.mask, m, size, flags=cv2.INTER_LINEAR)
    x0, y0 = np.floor(dst.min(0)).astype(int)
    x1, y1 = np.ceil(dst.max(0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size[0]), min(y1, size[1])
    if x0 >= x1 or y0 >= y1:
        return
    a_roi = alpha[y0:y1, x0:x1, None].astype(np.float32) / 255.0
    roi = frame[y0:y1, x0:x1]
    roi[:] = (sprite[y0:y1, x0:x1] * a_roi + roi * (1.0 - a_roi)).astype(np.uint8)
