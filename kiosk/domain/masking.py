"""Masking of personal data for screens, receipts and logs (e.g. 1101**********123X, 张*明)."""

from __future__ import annotations

import re

_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_LONG_DIGITS_RE = re.compile(r"(?<!\d)\d{9,}(?!\d)")


def mask_id(number: str) -> str:
    """Keep the first 4 and the last 4 characters of an ID number."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_name(name: str) -> str:
    """张明 -> 张*, 张小明 -> 张*明, 欧阳小明 -> 欧**明, John Smith -> J*** S****."""
    chars = list(name)
    if not chars:
        return ""
    if all(c.isascii() for c in chars):
        return " ".join(w[:1] + "*" * (len(w) - 1) for w in name.split())
    if len(chars) == 1:
        return "*"
    if len(chars) == 2:
        return chars[0] + "*"
    return chars[0] + "*" * (len(chars) - 2) + chars[-1]


def mask_account(number: str) -> str:
    """Bank account: keep the last 4 digits."""
    return "*" * max(0, len(number) - 4) + number[-4:]


def mask_card(number: str) -> str:
    """A social security card number on screen: the first 2 and the last 2 (A1*****89)."""
    if len(number) <= 4:
        return "*" * len(number)
    return number[:2] + "*" * (len(number) - 4) + number[-2:]


def scrub(text: str) -> str:
    """Mask anything in free text that looks like an ID number or a long account number."""
    text = _ID_RE.sub(lambda m: mask_id(m.group(0)), text)
    return _LONG_DIGITS_RE.sub(lambda m: mask_account(m.group(0)), text)


# Text leaving the kiosk (logs on a USB stick) is masked harder than a log line: besides ID and
# account numbers, every run of Chinese characters (a name logged by mistake is one) and the
# value of any name-like field. Technician logs are ASCII key=value lines, so nothing is lost.
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+")
_NAME_FIELD_RE = re.compile(r"(?<![\w.])((?:[a-z_]*_)?name|holder|citizen)=(\"[^\"]*\"|'[^']*'|\S+)",
                            re.IGNORECASE)
_TECHNICAL_NAMES = {"reader_name", "psam_reader_name", "logger_name", "kiosk_name", "hall_name",
                    "bureau_name", "device_name", "unit_name", "file_name", "host_name", "hostname"}


def _mask_field(m: re.Match[str]) -> str:
    key, value = m.group(1), m.group(2)
    if key.lower() in _TECHNICAL_NAMES:
        return m.group(0)
    quote = value[0] if value[:1] in ("'", '"') and len(value) >= 2 else ""
    inner = value[1:-1] if quote else value
    return f"{key}={quote}{mask_name(inner)}{quote}"


def scrub_for_export(text: str) -> str:
    """scrub(), then names: Chinese character runs and name=/holder=/citizen= values masked."""
    text = _NAME_FIELD_RE.sub(_mask_field, scrub(text))
    return _HAN_RE.sub(lambda m: mask_name(m.group(0)), text)
