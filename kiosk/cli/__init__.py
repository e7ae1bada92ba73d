"""The `kiosk` command: run, check-config, config --defaults, and the subsystems' commands.

Every command lives in this package (one module per subsystem beside this file), so the layers
below (card, sync, hw, services, liveness) never import command-line code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sqlite3
import sys
from pathlib import Path

from kiosk import __version__, config

# The subsystems' commands (a module with register(subparsers)), imported only to build the
# parser; one whose third-party library is missing leaves its command out. A kiosk module that
# fails to import is a bug and says so, rather than the command vanishing from the list.
SUBCOMMAND_MODULES = ("kiosk.cli.sync", "kiosk.cli.printer", "kiosk.cli.maintenance",
                      "kiosk.cli.liveness", "kiosk.cli.card", "kiosk.cli.provision", "kiosk.cli.queue",
                      "kiosk.cli.idcard", "kiosk.cli.logs", "kiosk.cli.update",
                      "kiosk.cli.stick")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk", description="Social-security self-service kiosk firmware.")
    p.add_argument("--version", action="version", version=f"kiosk {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the touch UI")
    run.add_argument("--config", type=Path, help="configuration file (default /etc/kiosk/kiosk.toml)")
    run.add_argument("--sim", action="store_true", help="use simulated devices (see `make run`)")
    run.add_argument("--walkthrough", type=Path, metavar="DIR",
                     help="no window: walk through the screens and save a screenshot of each to DIR")
    run.add_argument("--frames", type=int, help=argparse.SUPPRESS)  # benchmark: stop after N frames
    run.add_argument("--repeat", type=int, default=0, help=argparse.SUPPRESS)  # bench: N more pension journeys

    chk = sub.add_parser("check-config", help="validate a configuration file; exit 2 on the first problem")
    chk.add_argument("path", type=Path)

    cfg = sub.add_parser("config", help="show configuration, or change a setting on site")
    grp = cfg.add_mutually_exclusive_group()
    grp.add_argument("--defaults", action="store_true", help="print the commented default file")
    grp.add_argument("--show", action="store_true", help="print the resolved values and their layers")
    cfg.add_argument("--config", type=Path)
    csub = cfg.add_subparsers(dest="config_command", metavar="set")
    cset = csub.add_parser("set", help="change a key a technician may change on site (devices.printer, "
                           "devices.camera, card.reader_name, ...) in the technician layer; exit 2 if refused")
    cset.add_argument("key")
    cset.add_argument("value")
    cset.add_argument("--config", type=Path, dest="set_config", help=argparse.SUPPRESS)

    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if (exc.name or "kiosk").partition(".")[0] == "kiosk":
                raise
            continue
        module.register(sub)
    return p


def load_config(path: Path | None, sim: bool = False) -> config.Config:
    from kiosk.app import SIM_OVERRIDES

    return config.load(path, overrides=SIM_OVERRIDES if sim else None)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except config.ConfigError as exc:
        print(f"kiosk: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kiosk: interrupted", file=sys.stderr)
        return 130
    except (OSError, sqlite3.Error) as exc:
        # An ordinary failure (a file that cannot be written, a queue file that cannot be read)
        # is one line for the technician, never a traceback.
        print(f"kiosk: {_describe(exc)}", file=sys.stderr)
        return 1


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check-config":
        values = config.check_file(args.path)  # raises ConfigError: exit 2 with one line
        print(f"{args.path}: ok ({len(values)} keys set); the kiosk will start with it")
        return 0
    if args.command == "config":
        if getattr(args, "config_command", None) == "set":
            return _config_set(args)
        if not (args.defaults or args.show):
            print("kiosk config: say --defaults, --show or set KEY VALUE", file=sys.stderr)
            return 2
        if args.defaults:
            sys.stdout.write(config.defaults_file())
            return 0
        cfg = config.load(args.config, set_aside=False)
        for notice in cfg.notices:
            print(f"# {notice}")
        for key in config.SCHEMA:
            value = "<set>" if key.secret and cfg[key.name] else repr(cfg[key.name])
            print(f"{key.name} = {value}  # {cfg.sources[key.name]}")
        return 0
    if args.command == "run":
        return _run(args)
    if hasattr(args, "handler"):
        return int(args.handler(args) or 0)
    _parser().print_help()
    return 2


def _config_set(args: argparse.Namespace) -> int:
    """Exit codes: 0 saved, 2 refused (nothing written), 3 the data directory cannot be written."""
    from kiosk.services.audit import AuditLog

    path_arg = args.set_config or args.config
    try:
        path, cfg = config.set_technician_setting(args.key, args.value, path_arg)
    except OSError as exc:
        print(f"kiosk config set: nothing saved: {_describe(exc)}", file=sys.stderr)
        return 3
    saved = config.KEYS[args.key].parse(args.value, str(path))
    try:
        AuditLog(cfg.data_dir / "audit.db").append("setting_changed", key=args.key, new=saved, via="cli")
    except (OSError, sqlite3.Error) as exc:  # saved all the same: say so, do not fail
        print(f"kiosk config set: note: the audit log was not written ({_describe(exc)})", file=sys.stderr)
    print(f"{args.key} = {saved!r} saved to {path}; it applies when the kiosk restarts "
          "(systemctl restart kiosk)")
    if cfg.sources[args.key] != config.LAYER_TECHNICIAN:
        names = [n for n in config.KEYS[args.key].env_names if n in os.environ]
        print(f"note: the environment variable {' '.join(names) or '?'} overrides it, so it has no effect now")
    return 0


def _run(args: argparse.Namespace) -> int:
    from kiosk import app
    from kiosk.runtime import logs

    problem = ""
    try:
        cfg = load_config(args.config, sim=args.sim)
    except config.ConfigError as exc:
        # Only the image's file or a KIOSK_* variable gets here. The UI stays up, out of service,
        # naming the problem; exiting would restart it into the same error, again and again.
        problem = str(exc)
        print(f"kiosk: config error: {problem}; running out of service", file=sys.stderr)
        cfg = _fallback_config(args.config, args.sim)
    logs.setup(cfg["log.level"])
    import logging

    for notice in cfg.notices:  # said again now that the log goes somewhere
        logging.getLogger("kiosk.app").error("event=config_layer_set_aside notice=%r", notice[:300])
    if problem:
        logging.getLogger("kiosk.app").error("event=config_error out_of_service=1 problem=%r", problem)
    if args.walkthrough or (args.sim and not app.has_display() and args.frames is None):
        if problem:  # no screen to keep up: a walkthrough on the fallback would mislead
            return 2
        from kiosk.walkthrough import walkthrough

        out = args.walkthrough or Path("out")
        os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
        paths = walkthrough(cfg, out, repeat=args.repeat)
        for path in paths:
            print(path)
        print(f"kiosk: no display; wrote {len(paths)} screenshots to {out}/", file=sys.stderr)
        return 0
    probe = app.first_frame_probe() if args.frames is not None else None
    loader = (lambda: _fallback_config(args.config, args.sim)) if problem else (lambda: load_config(args.config, sim=args.sim))
    return app.run(cfg, max_frames=args.frames, on_first_frame=probe, cfg_loader=loader,
                   config_problem=problem)


def _fallback_config(path: Path | None, sim: bool) -> config.Config:
    from kiosk.app import SIM_OVERRIDES

    return config.load_fallback(path, overrides=SIM_OVERRIDES if sim else None)


if __name__ == "__main__":
    raise SystemExit(main())
