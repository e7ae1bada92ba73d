"""`kiosk update install --from DIR`: install the RAUC bundle (*.raucb) on a USB stick into the
other A/B slot (kiosk/services/updates.py; docs/runbook-provisioning.md).

Exit codes: 0 installed into the other slot (restart with `systemctl reboot "0 tryboot"` to
try it; kept only if the kiosk comes up), 1 nothing installed: no bundle on the stick, more than
one, or rauc refused it (the reason is printed), 3 rauc is not installed on this machine
(nothing attempted).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from kiosk import config

EXIT_REFUSED, EXIT_NO_RAUC = 1, 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("update", help="install a software update from a USB stick")
    usub = p.add_subparsers(dest="update_command", metavar="UPDATE_COMMAND", required=True)
    i = usub.add_parser("install", help="install the one *.raucb bundle in DIR with `rauc install`")
    i.add_argument("--from", dest="source", type=Path, required=True, metavar="DIR",
                   help="the mounted stick (or any directory)")
    i.add_argument("--config", type=Path, help="configuration file (default /etc/kiosk/kiosk.toml)")
    i.set_defaults(handler=_install)


def _audit(args: argparse.Namespace, event: str, **fields: object) -> None:
    from kiosk.services.audit import AuditLog

    try:
        cfg = config.load(args.config)
        AuditLog(cfg.data_dir / "audit.db").append(event, via="cli", **fields)
    except (OSError, sqlite3.Error, config.ConfigError) as exc:  # the update is what matters
        print(f"kiosk update install: note: the audit log was not written ({exc})", file=sys.stderr)


def _install(args: argparse.Namespace) -> int:
    from kiosk.services import updates

    try:
        bundle = updates.find_bundle(args.source)
        done = updates.install(bundle)
    except updates.NoBundle as exc:
        print(f"kiosk update install: nothing installed: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except updates.NoRauc as exc:
        print(f"kiosk update install: {exc}", file=sys.stderr)
        return EXIT_NO_RAUC
    except updates.RaucRefused as exc:
        print(f"kiosk update install: nothing installed: {exc}", file=sys.stderr)
        _audit(args, "update_refused", bundle=bundle.name)
        return EXIT_REFUSED
    _audit(args, "update_installed", bundle=done.bundle.name)
    print(f"{done.bundle.name} installed into the other slot. Restart into it with "
          f"`{updates.REBOOT_HINT}`: it is kept once the kiosk and the sync service are up, "
          "otherwise the next restart returns to this version.")
    return 0
