"""`kiosk sync run | status [--json] | retry-dead`: the sync daemon and its technician commands.

`status` exit codes, for a monitoring script: 0 the daemon runs and the queue moves, 3 the daemon
is not running, 4 the queue is stuck (dead letters, or a submission pending longer than
sync.stuck_after_s), 2 a configuration error.
"""

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
    """Exit 2 (systemd does not restart it: RestartPreventExitStatus=2) when the configuration
    or the identity is wrong, which no restart mends; 1 when a file may yet appear."""
    import logging
    import ssl

    from kiosk import provisioning
    from kiosk.runtime import logs
    from kiosk.sync.daemon import SyncDaemon, install_signal_handlers

    cfg = config.load(getattr(args, "config", None))
    logs.setup(cfg["log.level"])
    log = logging.getLogger("kiosk.sync.daemon")
    for notice in cfg.notices:  # said again now that the log goes somewhere
        log.error("event=config_layer_set_aside notice=%r", notice[:300])
    settings = SyncSettings.from_config(cfg)
    try:
        cert_id = provisioning.certificate_kiosk_id(settings.cert_file)
    except OSError as exc:  # not provisioned yet, or unreadable: say which, and let systemd retry
        log.error("event=sync_setup_failed reason=%r", str(exc))
        print(f"kiosk sync: cannot start: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"kiosk sync: cannot start: {settings.cert_file} is not a PEM certificate ({exc})",
              file=sys.stderr)
        return 2
    if cert_id != settings.kiosk_id:
        # Every submission would be refused as kiosk_mismatch: better not to send at all.
        problem = (f"kiosk.id {settings.kiosk_id!r} (from {cfg.sources['kiosk.id']}) is not the "
                   f"client certificate's subject {cert_id!r} ({settings.cert_file})")
        log.error("event=sync_identity_mismatch problem=%r", problem)
        print(f"kiosk sync: cannot start: {problem}", file=sys.stderr)
        return 2
    try:
        path = getattr(args, "config", None)
        daemon = SyncDaemon.from_settings(
            settings, reload=lambda: SyncSettings.from_config(config.load(path)))
    except OSError as exc:
        log.error("event=sync_setup_failed reason=%r", str(exc))
        print(f"kiosk sync: cannot start: {exc}", file=sys.stderr)
        return 1
    except (ssl.SSLError, ValueError) as exc:  # a key that does not fit, a bad URL
        log.error("event=sync_setup_failed reason=%r", str(exc))
        print(f"kiosk sync: cannot start: {exc}", file=sys.stderr)
        return 2
    for notice in cfg.notices:  # a layer set aside: the bureau hears of it with the next heartbeat
        try:
            daemon.outbox.record_alert("config_layer_set_aside", notice[:200])
        except Exception:  # an alert must not stop the daemon
            log.exception("event=alert_not_recorded")
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


EXIT_DAEMON_DOWN = 3
EXIT_STUCK = 4


def status_dict(settings: SyncSettings) -> dict[str, Any]:
    """The daemon's view when it runs; else the queue file's, with online unknown."""
    live = SyncClient(settings.socket_path).status()
    if live.daemon_running:
        return live.to_dict()
    out: dict[str, Any] = {"online": None, "pending": 0, "in_flight": 0, "dead": 0,
                           "oldest_pending_age_s": None, "last_success_at": None, "last_error": "",
                           "clock_synchronised": None, "daemon_running": False}
    from kiosk.sync.outbox import DB_NAME

    if (Path(settings.data_dir) / DB_NAME).exists():  # a status query never creates a queue
        with _open_outbox(settings) as outbox:
            st = outbox.status()
        out.update(pending=st.pending, in_flight=st.in_flight, dead=st.dead,
                   oldest_pending_age_s=st.oldest_pending_age_s, last_success_at=st.last_success_at)
    return out


def stuck_reasons(st: dict[str, Any], stuck_after_s: float) -> list[str]:
    """Why the queue is not moving by itself: what a technician must look at."""
    reasons = []
    if st["dead"]:
        reasons.append(f"{st['dead']} dead-lettered (kiosk sync retry-dead to resend)")
    age = st["oldest_pending_age_s"]
    if age is not None and age > stuck_after_s:
        reasons.append(f"oldest pending waited {_age(age)} (more than {_age(stuck_after_s)})")
    return reasons


def cmd_status(args: argparse.Namespace) -> int:
    cfg = config.load(getattr(args, "config", None))
    st = status_dict(SyncSettings.from_config(cfg))
    stuck = stuck_reasons(st, cfg["sync.stuck_after_s"])
    code = EXIT_DAEMON_DOWN if not st["daemon_running"] else EXIT_STUCK if stuck else 0
    verdict = {0: "ok", EXIT_DAEMON_DOWN: "daemon not running", EXIT_STUCK: "stuck"}[code]
    if args.json:
        print(json.dumps({**st, "verdict": verdict, "stuck": stuck}, sort_keys=True))
        return code
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
    rows.append(("verdict", "; ".join([verdict, *stuck])))
    for name, value in rows:
        print(f"{name:<15} {value}")
    return code


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
    """`python -m kiosk.cli.sync ...`: the same commands without the rest of the kiosk CLI."""
    parser = argparse.ArgumentParser(prog="kiosk")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sync", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.handler(args) or 0)
    except config.ConfigError as exc:
        print(f"kiosk: config error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
