"""Bit-image formats of ESC/POS decoded into Pillow images, and the printer's own QR encoder.

Images are mode 'L' with 0 for a printed dot and 255 for bare paper.
"""

from __future__ import annotations

import numpy as np
import qrcode
from PIL import Image
from qrcode.exceptions import DataOverflowError

_QR_ECC = {
    48: qrcode.constants.ERROR_CORRECT_L,
    49: qrcode.constants.ERROR_CORRECT_M,
    50: qrcode.constants.ERROR_CORRECT_Q,
    51: qrcode.constants.ERROR_CORRECT_H,
}
QR_ECC_NAMES = {48: "L", 49: "M", 50: "Q", 51: "H"}


def _bits_to_image(bits: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(bits, 0, 255).astype(np.uint8), "L")


def raster(
    data: bytes, width_bytes: int, height: int, scale_x: int = 1, scale_y: int = 1
) -> Image.Image:
    """Raster format (GS v 0, GS ( L, GS Q 0): rows of bytes, MSB leftmost, 1 = dot."""
    if width_bytes <= 0 or height <= 0:
        return Image.new("L", (1, 1), 255)
    arr = np.frombuffer(data[: width_bytes * height], dtype=np.uint8)
    arr = np.pad(arr, (0, width_bytes * height - arr.size))
    bits = np.unpackbits(arr).reshape(height, width_bytes * 8)
    img = _bits_to_image(bits)
    if scale_x != 1 or scale_y != 1:
        img = img.resize((img.width * scale_x, img.height * scale_y), Image.NEAREST)
    return img


def column_band(data: bytes, m: int, columns: int) -> Image.Image:
    """Column format (ESC * m): each column 1 byte (8 dots) or 3 bytes (24 dots), MSB on top."""
    per_col = 3 if m in (32, 33) else 1
    arr = np.frombuffer(data[: columns * per_col], dtype=np.uint8)
    arr = np.pad(arr, (0, columns * per_col - arr.size))
    bits = np.unpackbits(arr).reshape(columns, per_col * 8).T  # rows = vertical dots
    img = _bits_to_image(bits) if columns else Image.new("L", (1, per_col * 8), 255)
    # Single-density modes (m = 0, 32) print each column twice as wide; 8-dot modes have a third
    # of the vertical resolution of the 24-dot ones.
    sx = 2 if m in (0, 32) else 1
    sy = 3 if per_col == 1 else 1
    if sx != 1 or sy != 1:
        img = img.resize((img.width * sx, img.height * sy), Image.NEAREST)
    return img


def qr_symbol(data: bytes, module: int, ecc: int) -> Image.Image:
    """A model 2 QR symbol the way the printer draws it: no quiet zone, `module` dots a module.

    Raises ValueError when the data does not fit in any version (a printer prints nothing).
    """
    code = qrcode.QRCode(
        version=None, error_correction=_QR_ECC.get(ecc, _QR_ECC[48]), box_size=1, border=0
    )
    code.add_data(data)
    try:
        code.make(fit=True)
    except DataOverflowError as exc:
        raise ValueError("QR data too long") from exc
    bits = np.array(code.get_matrix(), dtype=bool)
    img = _bits_to_image(bits)
    return img.resize((img.width * module, img.height * module), Image.NEAREST)


def code_table_codec(n: int) -> str | None:
    """Python codec for ESC t n (Epson numbering); None when the table is not simulated."""
    return _CODE_TABLES.get(n)


_CODE_TABLES = {
    0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 13: "cp857", 14: "cp737",
    15: "iso8859_7", 16: "cp1252", 17: "cp866", 18: "cp852", 19: "cp858", 21: "cp874",
    32: "cp720", 33: "cp775", 34: "cp855", 35: "cp861", 36: "cp862", 37: "cp864", 38: "cp869",
    39: "iso8859_2", 40: "iso8859_15", 44: "cp1125", 45: "cp1250", 46: "cp1251", 47: "cp1253",
    48: "cp1254", 49: "cp1255", 50: "cp1256", 51: "cp1257", 52: "cp1258", 255: "cp437",
}
