"""`kiosk logs export --to DIR` and `kiosk logs verify DIR --cert PEM`: the kiosk units' journal
and the audit log to a USB stick, masked and signed with the kiosk's key
(kiosk/services/log_export.py; docs/runbook-provisioning.md).

export exit codes: 0 written and signed, 4 written but not signed (this kiosk has no key yet:
not provisioned), 1 not written (the reason is printed).
verify exit codes: 0 the signature and every file check, 1 they do not (the file or the reason
is printed).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from kiosk import config

EXIT_FAILED, EXIT_UNSIGNED = 1, 4


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("logs", help="export the logs and the audit log to a USB stick (masked, signed)")
    lsub = p.add_subparsers(dest="logs_command", metavar="LOGS_COMMAND", required=True)
    e = lsub.add_parser("export", help="write the kiosk units' journal and the audit log, masked and "
                        "signed, to DIR/kiosk-logs-<kiosk id>-<time>/")
    e.add_argument("--to", dest="target", type=Path, required=True, metavar="DIR",
                   help="the mounted stick (or any directory)")
    e.add_argument("--since", metavar="WHEN", help="journal entries since this time, as journalctl --since "
                   "reads it: --since=-7d (with '=': it starts with a dash) or --since 2026-11-01; "
                   "default: all the journal keeps")
    e.add_argument("--journal-dir", type=Path, metavar="DIR",
                   help="read this journal folder (an old card's /var/log/journal) instead of the system's")
    e.add_argument("--config", type=Path, help="configuration file (default /etc/kiosk/kiosk.toml)")
    e.set_defaults(handler=_export)
    v = lsub.add_parser("verify", help="check an export's signature and files against the kiosk's certificate")
    v.add_argument("dir", type=Path, metavar="DIR", help="the export folder (kiosk-logs-...)")
    v.add_argument("--cert", type=Path, required=True, metavar="PEM",
                   help="the kiosk's certificate as the bureau issued it")
    v.set_defaults(handler=_verify)


def _export(args: argparse.Namespace) -> int:
    from kiosk.services import log_export
    from kiosk.services.audit import AuditLog

    cfg = config.load(args.config)
    key = cfg["sync.key_file"]
    try:
        done = log_export.export(cfg.data_dir, cfg["kiosk.id"], args.target, Path(key) if key else None,
                                 journal_dir=args.journal_dir, since=args.since)
    except log_export.ExportFailed as exc:
        print(f"kiosk logs export: nothing written: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, sqlite3.Error) as exc:
        why = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"kiosk logs export: nothing written: {why}", file=sys.stderr)
        return EXIT_FAILED
    try:
        AuditLog(cfg.data_dir / "audit.db").append("logs_exported", signed=int(done.signed), via="cli")
    except (OSError, sqlite3.Error) as exc:  # written all the same: say so, do not fail
        print(f"kiosk logs export: note: the audit log was not written ({exc})", file=sys.stderr)
    journal = ("no journal (journalctl is not installed)" if done.journal_entries is None
               else f"{done.journal_entries} journal entries")
    audit = "no audit log" if done.audit_entries is None else f"{done.audit_entries} audit entries"
    print(f"{journal} and {audit} of {cfg['kiosk.id']}, masked, written to {done.path}")
    if not done.signed:
        print(f"kiosk logs export: NOT signed: {done.unsigned_why}", file=sys.stderr)
        return EXIT_UNSIGNED
    print("signed with this kiosk's key; check it with `kiosk logs verify DIR --cert <its certificate>`")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from kiosk.services import log_export

    try:
        cert = args.cert.read_bytes()
    except OSError as exc:
        print(f"kiosk logs verify: cannot read {args.cert}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        done = log_export.verify(args.dir, cert)
    except log_export.NotVerified as exc:
        print(f"kiosk logs verify: NOT verified: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"verified: {', '.join(done.files)} exactly as {done.kiosk_id} signed them on {done.created}")
    return 0
