"""`kiosk stick run TASK`: one of the maintenance menu's USB stick tasks, as root, for the menu
(systemd/kiosk-stick-task@.service runs it; kiosk/services/stick.py). `provision` and
`provision-first` are `kiosk provision --from` on the stick (kiosk/services/stick_provision.py):
provision-first, started when a stick holding a bundle is put into an unprovisioned kiosk, refuses
on a provisioned one; after phase 2 both restart kiosk-sync and kiosk. The stick is the mounted
`maintenance.stick_dir`; the outcome goes to <data_dir>/stick/TASK.json, where the UI reads it,
and its technical line to standard output. A technician at a root shell uses the commands
themselves (`kiosk logs export`, `kiosk queue export|import`, `kiosk update install`).

Exit codes: 0 done, 1 not done (the line says why; the UI shows it in plain words).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiosk import config


def register(sub: argparse._SubParsersAction) -> None:
    from kiosk.services.stick import TASKS

    p = sub.add_parser("stick", help="a maintenance-menu USB stick task, as root (kiosk-stick-task@.service)")
    ssub = p.add_subparsers(dest="stick_command", metavar="STICK_COMMAND", required=True)
    r = ssub.add_parser("run", help="run one task on the mounted stick and leave its outcome for the menu")
    r.add_argument("task", choices=TASKS)
    r.add_argument("--config", type=Path, help="configuration file (default /etc/kiosk/kiosk.toml)")
    r.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from kiosk.services import stick, stick_provision

    cfg = config.load(args.config)
    provisioning = args.task.startswith("provision")
    if provisioning:  # the out-of-service page says 'working' while the stick is read
        stick_provision.working(cfg.data_dir, args.task)
    outcome = stick.run_task(args.task, cfg, Path(cfg["maintenance.stick_dir"]))
    try:
        stick.write_result(cfg.data_dir, outcome)
    except OSError as exc:
        print(f"kiosk stick run: the outcome was not left for the menu ({exc})", file=sys.stderr)
    print(f"kiosk stick run {args.task}: {outcome.key}: {outcome.detail}",
          file=sys.stdout if outcome.ok else sys.stderr)
    if provisioning and outcome.key == "provisioned" and cfg["devices.gpio"] != "mock":
        stick_provision.restart_units()  # into service on the new identity, no shell needed
    return 0 if outcome.ok else 1
