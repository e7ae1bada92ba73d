"""`kiosk maintenance set-pin`: writes the technician PIN's scrypt hash to the technician layer."""

from __future__ import annotations

import argparse
import getpass
import sys

from kiosk import config
from kiosk.services.audit import AuditLog
from kiosk.services.maintenance import hash_pin


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("maintenance", help="technician access")
    msub = p.add_subparsers(dest="maintenance_command", required=True)
    s = msub.add_parser("set-pin", help="set the technician PIN (6-12 digits), asked twice")
    s.add_argument("--config", type=config.Path)
    s.add_argument("--stdin", action="store_true", help="read the PIN twice from standard input")
    s.set_defaults(handler=_set_pin)


def _set_pin(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    if args.stdin:
        lines = sys.stdin.read().splitlines()
        first, second = (lines + ["", ""])[:2]
    else:
        first, second = getpass.getpass("New technician PIN: "), getpass.getpass("Again: ")
    if first != second:
        print("kiosk: the two PINs differ; nothing changed", file=sys.stderr)
        return 1
    try:
        hashed = hash_pin(first.strip())
    except ValueError as exc:
        print(f"kiosk: {exc}; nothing changed", file=sys.stderr)
        return 1
    path = config.save_technician_settings(cfg.data_dir, {"maintenance.pin_hash": hashed})
    AuditLog(cfg.data_dir / "audit.db").append("maintenance_pin_set", via="cli")
    print(f"technician PIN saved to {path}")
    return 0
