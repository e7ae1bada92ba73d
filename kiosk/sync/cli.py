"""`kiosk sync run | status [--json] | retry-dead`: the sync daemon and its technician commands."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from kiosk import config
from kiosk.sync.ipc import SyncClient
from kiosk.sync.settings import SyncSettings


def register(subparsers: Any) -> None:
    """Add `sync` with its subcommands to the `kiosk` command's subparsers."""
    sync = subparsers.add_parser("sync", help="the bureau sync daemon and its queue")
    sync_sub = sync.add_subparsers(dest="sync_command", metavar="SYNC_COMMAND", required=True)

    run = sync_sub.add_parser("run", help="run the sync daemon (systemd unit kiosk-sync)")
    run.set_defaults(handler=cmd_run)
    status = sync_sub.add_parser("status", help="queue depth, dead letters, last success, online")
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")
    status.set_defaults(handler=cmd_status)
    retry = sync_sub.add_parser("retry-dead", help="send every dead-lettered submission again")
    retry.set_defaults(handler=cmd_retry_dead)
    for p in (run, status, retry):
        p.add_argument("--config", type=Path,
                       help="configuration file (default /etc/kiosk/kiosk.toml)")


def _settings(args: argparse.Namespace) -> SyncSettings:
    return SyncSettings.from_config(config.load(getattr(args, "config", None)))


def cmd_run(args: argparse.Namespace) -> int:
    import logging
    import ssl

    from kiosk.runtime import logs
    from kiosk.sync.daemon import SyncDaemon, install_signal_handlers

    cfg = config.load(getattr(args, "config", None))
    logs.setup(cfg["log.level"])
    try:
        path = getattr(args, "config", None)
        daemon = SyncDaemon.from_settings(
            SyncSettings.from_config(cfg),
            reload=lambda: SyncSettings.from_config(config.load(path)))
    except (OSError, ssl.SSLError, ValueError) as exc:
        # Missing or unreadable TLS files, a bad URL: say which, once, and let systemd retry.
        logging.getLogger("kiosk.sync.daemon").error("event=sync_setup_failed reason=%r", str(exc))
        print(f"kiosk sync: cannot start: {exc}", file=sys.stderr)
        return 2
    install_signal_handlers(daemon)
    try:
        return daemon.run()
    except RuntimeError as exc:  # another daemon already holds the lock or the socket
        print(f"kiosk sync: {exc}", file=sys.stderr)
        return 3


def _open_outbox(settings: SyncSettings) -> Any:
    from kiosk.sync.outbox import NoSealer, Outbox
    return Outbox(settings.data_dir, settings.kiosk_id, NoSealer(),
                  min_free_mb=settings.min_free_mb, recover_in_flight=False)


def status_dict(settings: SyncSettings) -> dict[str, Any]:
    """The daemon's view when it runs; else the queue file's, with online unknown."""
    live = SyncClient(settings.socket_path).status()
    if live.daemon_running:
        out = live.to_dict()
    else:
        with _open_outbox(settings) as outbox:
            st = outbox.status()
        out = {"online": None, "pending": st.pending, "in_flight": st.in_flight, "dead": st.dead,
               "oldest_pending_age_s": st.oldest_pending_age_s,
               "last_success_at": st.last_success_at, "last_error": "",
               "clock_synchronised": None, "daemon_running": False}
    return out


def cmd_status(args: argparse.Namespace) -> int:
    st = status_dict(_settings(args))
    if args.json:
        print(json.dumps(st, sort_keys=True))
        return 0
    online = {True: "yes", False: "no", None: "unknown"}[st["online"]]
    if not st["daemon_running"]:
        online += " (sync daemon not running)"
    last = st["last_success_at"]
    rows = [
        ("pending", str(st["pending"])),
        ("in flight", str(st["in_flight"])),
        ("dead", str(st["dead"]) + ("  (kiosk sync retry-dead to resend)" if st["dead"] else "")),
        ("oldest pending", _age(st["oldest_pending_age_s"])),
        ("last success", "never" if last is None else
         time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last))
         + f" ({_age(time.time() - last)} ago)"),
        ("online", online),
    ]
    if st.get("last_error"):
        rows.append(("last error", st["last_error"]))
    for name, value in rows:
        print(f"{name:<15} {value}")
    return 0


def cmd_retry_dead(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _open_outbox(settings) as outbox:
        n = outbox.retry_dead()
    woke = SyncClient(settings.socket_path).kick()
    print(f"{n} dead-lettered submission(s) back in the queue"
          + ("" if woke else "; the sync daemon is not running, they go when it starts"))
    return 0


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def main(argv: list[str] | None = None) -> int:
    """`python -m kiosk.sync ...`: the same commands without the rest of the kiosk CLI."""
    parser = argparse.ArgumentParser(prog="kiosk")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sync", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.handler(args) or 0)
    except config.ConfigError as exc:
        print(f"kiosk: config error: {exc}", file=sys.stderr)
        return 2
