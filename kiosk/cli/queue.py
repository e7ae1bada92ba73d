"""`kiosk queue export DIR | import DIR`: the unsent sealed submissions from one SD card to its
replacement (kiosk/sync/queue_transfer.py; docs/runbook-provisioning.md says when).

export exit codes: 0 written (the count is printed), 1 not written (the reason is printed).
import exit codes: 0 imported (or imported before: nothing added), 1 refused: the export is
damaged, cut short or another kiosk's (nothing imported), 3 the queue cannot be written
(nothing imported).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from kiosk import config

EXIT_FAILED, EXIT_NOT_WRITABLE = 1, 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("queue", help="move the unsent sealed queue to a new SD card")
    qsub = p.add_subparsers(dest="queue_command", metavar="QUEUE_COMMAND", required=True)
    e = qsub.add_parser("export", help="write the unsent submissions (still sealed) to DIR/kiosk-queue-<kiosk id>")
    e.set_defaults(handler=_export)
    i = qsub.add_parser("import", help="add an export from DIR to this kiosk's queue (all or nothing)")
    i.set_defaults(handler=_import)
    for q in (e, i):
        q.add_argument("dir", type=Path, metavar="DIR")
        q.add_argument("--config", type=Path, help="configuration file (default /etc/kiosk/kiosk.toml)")


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _export(args: argparse.Namespace) -> int:
    from kiosk.sync import queue_transfer
    from kiosk.sync.storage import StorageError

    cfg = config.load(args.config)
    try:
        done = queue_transfer.export(cfg.data_dir, cfg["kiosk.id"], args.dir)
    except (OSError, sqlite3.Error, StorageError) as exc:
        print(f"kiosk queue export: nothing written: {_why(exc)}", file=sys.stderr)
        return EXIT_FAILED
    dead = f" ({done.dead} of them dead-lettered)" if done.dead else ""
    print(f"{done.count} unsent submission(s){dead} of {cfg['kiosk.id']} exported, still sealed, "
          f"to {done.path}; import them on the new card with `kiosk queue import DIR`")
    return 0


def _import(args: argparse.Namespace) -> int:
    from kiosk.sync import queue_transfer
    from kiosk.sync.storage import StorageError

    cfg = config.load(args.config)
    try:
        done = queue_transfer.import_(cfg.data_dir, cfg["kiosk.id"], args.dir)
    except queue_transfer.TransferRefused as exc:
        print(f"kiosk queue import: refused, nothing imported: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, sqlite3.Error, StorageError) as exc:
        print(f"kiosk queue import: cannot write the queue in {cfg.data_dir} ({_why(exc)}); "
              "nothing imported", file=sys.stderr)
        return EXIT_NOT_WRITABLE
    if done.export_seen:
        print(f"this export ({done.count} submission(s)) was imported before: nothing added")
    else:
        print(f"{done.added} of {done.count} submission(s) added to the queue "
              f"({done.count - done.added} were already in it); the sync daemon sends them")
    return 0
