"""`kiosk card info`: wait for a card and print who it belongs to (masked unless --unmasked).

The exit code says what is at fault, for a technician's script: 0 a valid card was read, 3 the
card (not a readable social security card), 4 no card was inserted in time, 5 the card is
expired (printed, marked EXPIRED), 6 the reader (none configured, none connected, not found),
7 pcscd (not running), 2 a configuration error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import dataclass
from typing import Any

from kiosk import config

EXIT_CARD, EXIT_NO_CARD, EXIT_EXPIRED, EXIT_READER, EXIT_PCSCD = 3, 4, 5, 6, 7


@dataclass(frozen=True)
class Fault:
    """Why no identity could be read: the exit code and the technician's one line."""

    code: int
    message: str


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("card", help="the card reader and the card in it")
    csub = p.add_subparsers(dest="card_command", required=True)
    info = csub.add_parser("info", help="wait for a card and print its decoded identity; exit 0 valid card, "
                           "3 card at fault, 4 no card, 5 expired, 6 reader at fault, 7 pcscd not running")
    info.add_argument("--config", type=config.Path)
    info.add_argument("--json", action="store_true")
    info.add_argument("--unmasked", action="store_true", help="full ID number and name (maintenance only)")
    info.add_argument("--wait", type=float, default=30.0, help="seconds to wait for a card (default 30)")
    info.set_defaults(handler=_info)


def fault_of(exc: Exception, wait_s: float) -> Fault:
    """Map a reader or card error to who is at fault; pcscd and the reader are never the card."""
    from kiosk.hw.errors import CardMute, CardRemoved, NoCard, PcscUnavailable, ReaderGone

    if isinstance(exc, PcscUnavailable):
        return Fault(EXIT_PCSCD, f"pcscd is not running (systemctl status pcscd): {exc}")
    if isinstance(exc, ReaderGone):
        return Fault(EXIT_READER, f"card reader not connected or not found: {exc}")
    if isinstance(exc, NoCard):
        return Fault(EXIT_NO_CARD, f"no card inserted within {wait_s:g} s")
    if isinstance(exc, CardRemoved):
        return Fault(EXIT_CARD, f"the card was removed while it was read: {exc}")
    if isinstance(exc, CardMute):
        return Fault(EXIT_CARD, f"the card does not answer (dirty contacts, or a dead chip): {exc}")
    return Fault(EXIT_CARD, f"not a readable social security card: {type(exc).__name__}: {exc}")


def _info(args: argparse.Namespace) -> int:
    from kiosk.card.errors import CardError
    from kiosk.hw.errors import ReaderError
    from kiosk.hw.registry import open_adapter
    from kiosk.services.card_service import CardService

    cfg = config.load(args.config)
    reader = open_adapter("reader", cfg["devices.reader"], cfg)
    if not hasattr(reader, "wait_for_card"):
        health = reader.health()
        print(f"kiosk: no card reader: {health.reason} {health.detail}", file=sys.stderr)
        return EXIT_READER
    service = CardService(reader, cfg["card.profile"])
    try:
        identity = service.insert_and_read(args.wait)
    except (CardError, ReaderError) as exc:
        fault = fault_of(exc, args.wait)
        print(f"kiosk: {fault.message}", file=sys.stderr)
        return fault.code
    finally:
        reader.close()
    out = describe(identity, args.unmasked, dt.date.today())
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        for key, value in out.items():
            print(f"{key}: {value}")
        if out["expired"]:
            print(f"EXPIRED on {out['expiry_date']}: the holder renews the card at a service counter")
    return EXIT_EXPIRED if out["expired"] else 0


def describe(identity: Any, unmasked: bool, today: dt.date) -> dict[str, Any]:
    """What `card info` prints; the expiry is judged by this machine's clock (a technician's shell,
    not a citizen turned away, so an untrusted clock only mislabels a diagnostic)."""
    from kiosk.domain.masking import mask_id, mask_name

    h, i = identity.holder, identity.info
    return {"id_number": h.id_number if unmasked else mask_id(h.id_number),
            "name": h.name if unmasked else mask_name(h.name),
            "card_number": i.card_number if unmasked else i.card_number[:2] + "*****" + i.card_number[-2:],
            "generation": i.generation, "spec_version": i.spec_version,
            "issue_date": str(i.issue_date or ""), "expiry_date": str(i.expiry_date or ""),
            "expired": i.expired(today), "region_code": i.region_code,
            "id_number_valid": h.id_number_valid, "apdus": identity.apdus}
