"""`kiosk card info`: wait for a card and print who it belongs to (masked unless --unmasked)."""

from __future__ import annotations

import argparse
import json
import sys

from kiosk import config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("card", help="the card reader and the card in it")
    csub = p.add_subparsers(dest="card_command", required=True)
    info = csub.add_parser("info", help="wait for a card and print its decoded identity")
    info.add_argument("--config", type=config.Path)
    info.add_argument("--json", action="store_true")
    info.add_argument("--unmasked", action="store_true", help="full ID number and name (maintenance only)")
    info.add_argument("--wait", type=float, default=30.0, help="seconds to wait for a card (default 30)")
    info.set_defaults(handler=_info)


def _info(args: argparse.Namespace) -> int:
    from kiosk.card.errors import CardError
    from kiosk.domain.masking import mask_id, mask_name
    from kiosk.hw.errors import NoCard, ReaderError
    from kiosk.hw.registry import open_adapter
    from kiosk.services.card_service import CardService

    cfg = config.load(args.config)
    reader = open_adapter("reader", cfg["devices.reader"], cfg)
    if not hasattr(reader, "wait_for_card"):
        print(f"kiosk: no card reader: {reader.health().reason} {reader.health().detail}", file=sys.stderr)
        return 3
    service = CardService(reader, cfg["card.profile"])
    try:
        identity = service.insert_and_read(args.wait)
    except NoCard:
        print(f"kiosk: no card inserted within {args.wait:g} s", file=sys.stderr)
        return 3
    except (CardError, ReaderError) as exc:
        print(f"kiosk: not a readable social security card: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    finally:
        reader.close()
    h, i = identity.holder, identity.info
    out = {"id_number": h.id_number if args.unmasked else mask_id(h.id_number),
           "name": h.name if args.unmasked else mask_name(h.name),
           "card_number": i.card_number if args.unmasked else i.card_number[:2] + "*****" + i.card_number[-2:],
           "generation": i.generation, "spec_version": i.spec_version,
           "issue_date": str(i.issue_date or ""), "expiry_date": str(i.expiry_date or ""),
           "region_code": i.region_code, "id_number_valid": h.id_number_valid, "apdus": identity.apdus}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        for key, value in out.items():
            print(f"{key}: {value}")
    return 0
