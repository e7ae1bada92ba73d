"""`kiosk maintenance set-pin`: writes the technician PIN's scrypt hash to the provisioning store
(<data_dir>/provisioning/technician_pin_hash), never a settings layer that could be set aside.

On a terminal the PIN is asked twice without echo. Without one (a pipe, a script, ssh without a
tty) it is read from standard input: one line, or the same PIN on two lines; nothing waits longer
than maintenance.pin_stdin_wait_s for it. Exit codes: 0 saved, 1 PIN refused (the two differ, not 6-12 digits, or weak: one digit repeated,
a straight run, a repeated block or one of the well-known PINs; kiosk/domain/pin_rules.py),
3 the data directory cannot be written, 4 no PIN on standard input, 2 a configuration error.
"""

from __future__ import annotations

import argparse
import getpass
import os
import select
import sqlite3
import sys
import time

from kiosk import config, provisioning
from kiosk.domain.pin_rules import technician_pin_problem
from kiosk.services.audit import AuditLog

EXIT_REFUSED, EXIT_NOT_WRITABLE, EXIT_NO_PIN = 1, 3, 4


class NoPin(Exception):
    """Standard input gave no PIN (closed, empty, or silent for too long)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("maintenance", help="technician access")
    msub = p.add_subparsers(dest="maintenance_command", required=True)
    s = msub.add_parser("set-pin", help="set the technician PIN (6-12 digits, not an easy guess): asked twice "
                        "on a terminal, "
                        "read from standard input otherwise (one line, or the same PIN on two lines)")
    s.add_argument("--config", type=config.Path)
    s.add_argument("--stdin", action="store_true", help="read the PIN from standard input even on a terminal")
    s.set_defaults(handler=_set_pin)


def read_piped_lines(fd: int, wait_s: float) -> list[str]:
    """Up to two lines from fd, ending at EOF, at the second newline or after wait_s."""
    data = b""
    deadline = time.monotonic() + wait_s
    while data.count(b"\n") < 2:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            if not data.strip():
                raise NoPin(f"no PIN on standard input within {wait_s:g} s")
            break
        chunk = os.read(fd, 256)
        if not chunk:
            break
        data += chunk
    lines = [line.strip() for line in data.decode(errors="replace").splitlines() if line.strip()]
    if not lines:
        raise NoPin("standard input is empty")
    return lines[:2]


def _ask(args: argparse.Namespace, wait_s: float) -> tuple[str, str]:
    if sys.stdin.isatty() and not args.stdin:
        return getpass.getpass("New technician PIN: "), getpass.getpass("Again: ")
    lines = read_piped_lines(sys.stdin.fileno(), wait_s)
    return lines[0], lines[-1]


def _set_pin(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    try:
        first, second = _ask(args, cfg["maintenance.pin_stdin_wait_s"])
    except NoPin as exc:
        print(f"kiosk: {exc}; without a terminal pipe it in, e.g. "
              "`printf '%s\\n' PIN | kiosk maintenance set-pin`; nothing changed", file=sys.stderr)
        return EXIT_NO_PIN
    if first != second:
        print("kiosk: the two PINs differ; nothing changed", file=sys.stderr)
        return EXIT_REFUSED
    problem = technician_pin_problem(first.strip())
    if problem:
        print(f"kiosk: {problem}; nothing changed", file=sys.stderr)
        return EXIT_REFUSED
    try:
        path = provisioning.set_technician_pin(cfg.data_dir, first.strip())
        AuditLog(cfg.data_dir / "audit.db").append("maintenance_pin_set", via="cli")
    except (OSError, sqlite3.Error) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"kiosk: cannot write the provisioning store in {cfg.data_dir}: {why}", file=sys.stderr)
        return EXIT_NOT_WRITABLE
    print(f"technician PIN saved to {path}")
    return 0
