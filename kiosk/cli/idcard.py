"""`kiosk idcard info`: wait for a resident ID card and print what the reader read (masked unless
--unmasked), like `kiosk card info`.

The exit code says what is at fault, for a technician's script: 0 a valid card was read, 3 the
card (unreadable, moved away while read, data failing its checks), 4 no card placed in time,
5 the card is expired (printed, marked EXPIRED), 6 the reader (none configured, cannot be opened,
not answering, its SAM not working), 2 a configuration error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from kiosk import config

EXIT_CARD, EXIT_NO_CARD, EXIT_EXPIRED, EXIT_READER = 3, 4, 5, 6
ADDRESS_SHOWN = 6  # characters of the address shown when masked: the province and city, roughly


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("idcard", help="the resident ID card reader and the card on it")
    isub = p.add_subparsers(dest="idcard_command", required=True)
    info = isub.add_parser("info", help="wait for an ID card and print what it holds; exit 0 valid card, "
                           "3 card at fault, 4 no card, 5 expired, 6 reader at fault")
    info.add_argument("--config", type=config.Path)
    info.add_argument("--json", action="store_true")
    info.add_argument("--unmasked", action="store_true", help="full name, ID number and address (maintenance only)")
    info.add_argument("--wait", type=float, default=30.0, help="seconds to wait for a card (default 30)")
    info.set_defaults(handler=_info)


def fault_of(exc: Exception, wait_s: float) -> tuple[int, str]:
    """(exit code, the technician's line) for an ID card error: the reader is never the card."""
    from kiosk.hw import idcard_errors as ie

    if isinstance(exc, ie.SamUnavailable):
        return EXIT_READER, f"the ID card reader's security module is not working: {exc}"
    if isinstance(exc, ie.IdCardReaderFault):
        return EXIT_READER, f"ID card reader not connected or not answering: {exc}"
    if isinstance(exc, ie.NoIdCard):
        return EXIT_NO_CARD, f"no ID card placed within {wait_s:g} s"
    if isinstance(exc, ie.IdCardRemoved):
        return EXIT_CARD, f"the ID card was moved away while it was read: {exc}"
    return EXIT_CARD, f"the ID card could not be read: {type(exc).__name__}: {exc}"


def _info(args: argparse.Namespace) -> int:
    from kiosk.hw.idcard_errors import IdCardError
    from kiosk.hw.registry import Unavailable, open_device

    cfg = config.load(args.config)
    reader = open_device("idcard", cfg["devices.idcard"], cfg)
    if isinstance(reader, Unavailable):
        health = reader.health()
        print(f"kiosk: no ID card reader: {health.reason} {health.detail}", file=sys.stderr)
        return EXIT_READER
    try:
        if not reader.wait_for_card(args.wait):
            print(f"kiosk: no ID card placed within {args.wait:g} s", file=sys.stderr)
            return EXIT_NO_CARD
        data = reader.read()
    except IdCardError as exc:
        code, message = fault_of(exc, args.wait)
        print(f"kiosk: {message}", file=sys.stderr)
        return code
    finally:
        reader.close()
    out = describe(data, args.unmasked, dt.date.today())
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        for key, value in out.items():
            print(f"{key}: {value}")
        if out["expired"]:
            print(f"EXPIRED on {out['valid_until']}: the holder renews the ID card at the police")
    return EXIT_EXPIRED if out["expired"] else 0


def describe(data: Any, unmasked: bool, today: dt.date) -> dict[str, Any]:
    """What `idcard info` prints. A rare character (private-use) is never printed as itself: it
    shows as U+XXXX. The expiry is judged by this machine's clock, as `card info` does."""
    from kiosk.domain.masking import mask_id, mask_name

    name = "".join(f"<U+{ord(c):04X}>" if 0xE000 <= ord(c) <= 0xF8FF else c for c in data.name)
    return {"id_number": data.id_number if unmasked else mask_id(data.id_number),
            "name": name if unmasked else mask_name(data.name_with("*")),
            "name_has_rare_chars": data.name_has_rare_chars,
            "sex": data.sex, "nation_code": data.nation_code,
            "birth_date": str(data.birth_date) if unmasked else str(data.birth_date.year),
            "address": data.address if unmasked else data.address[:ADDRESS_SHOWN] + "…",
            "authority": data.authority,
            "valid_from": str(data.valid_from), "valid_until": str(data.valid_until or "长期"),
            "expired": bool(data.expired(today)), "photo_length": data.photo_length}
