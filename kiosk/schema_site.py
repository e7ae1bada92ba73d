"""The configuration keys of the bureau and the hall a kiosk stands in: its region, what receipts
and the home screen tell a citizen about where they are and whom to call. kiosk.schema makes them Keys of its SCHEMA (kept here to
keep that module one screenful of keys shorter); each is (name, type, default, description) and
the Key's options."""

from __future__ import annotations

import re
from typing import Any


def _hotline_problem(value: Any) -> str | None:
    if not re.fullmatch(r"[0-9][0-9 -]{2,18}[0-9]", value):
        return "expected a telephone number: digits, with spaces or hyphens between them (e.g. 12333, 010-12333)"
    return None


def _name_problem(value: Any) -> str | None:
    if len(value) > 40:
        return "at most 40 characters (it is one line of the home screen)"
    return None


SITE: tuple[tuple[tuple[str, type, Any, str], dict[str, Any]], ...] = (
    (("kiosk.bureau_name", str, "社会保险事业管理局", "Bureau name printed at the top of receipts."), {"bureau": True}),
    (("kiosk.region_code", str, "110100", "Six-digit administrative region code of the hall."), {"technician": True}),
    (("kiosk.bureau_name_en", str, "Social Insurance Agency",
      "The bureau's name on the English home screen (kiosk.bureau_name is shown in Chinese)."),
     {"bureau": True, "check": _name_problem}),
    (("kiosk.hall_name", str, "社会保障服务大厅", "The hall this kiosk stands in, shown on the home screen."),
     {"technician": True, "bureau": True, "check": _name_problem}),
    (("kiosk.hall_name_en", str, "Social Security Service Hall", "The hall's name on the English home screen."),
     {"technician": True, "bureau": True, "check": _name_problem}),
    (("bureau.hotline", str, "12333", "The hotline citizens are told to call (home screen, paused services): "
      "12333 or the bureau's own number."), {"technician": True, "bureau": True, "check": _hotline_problem}),
)
