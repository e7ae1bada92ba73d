"""`kiosk printer status` and `kiosk printer test`: printer diagnostics for a technician's shell.

Exit codes: 0 the printer can print (paper near its end included), 1 it cannot, 2 bad config.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kiosk import config
from kiosk.hw.printer_escpos import EscposPrinter, PaperLevel, PrinterStatus, open_printer


def register(subparsers: Any) -> None:
    """Add `printer status` and `printer test` to the kiosk command."""
    printer = subparsers.add_parser("printer", help="receipt printer diagnostics")
    sub = printer.add_subparsers(dest="printer_command", metavar="ACTION")
    printer.set_defaults(handler=lambda args: _usage(printer))

    status = sub.add_parser("status", help="ask the printer (DLE EOT): online, paper, cover; "
                            "exit 0 when it can print (also with paper near end), 1 when not")
    status.add_argument("--json", action="store_true", help="one JSON object instead of text")
    status.add_argument("--config", type=Path, help="configuration file")
    status.set_defaults(handler=status_command)

    test = sub.add_parser("test", help="print a test receipt in Chinese and one in English; "
                          "exit 0 when both printed")
    test.add_argument("--config", type=Path, help="configuration file")
    test.set_defaults(handler=test_command)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _open(cfg: config.Config) -> EscposPrinter | None:
    spec = cfg["devices.printer"]
    if spec in ("", "none"):
        return None
    try:
        return open_printer(spec, cfg)
    except ValueError as exc:
        raise config.ConfigError(cfg.sources.get("devices.printer", "config"),
                                 "devices.printer", str(exc)) from None


def status_command(args: argparse.Namespace) -> int:
    """Print the printer's status now; the exit code says whether a receipt would print."""
    from kiosk.i18n import Translator

    cfg = config.load(args.config)
    _logging(cfg)
    printer = _open(cfg)
    if printer is None:
        st = PrinterStatus(False, PaperLevel.OK, False, "health.printer.not_installed", "none")
    else:
        with printer:
            st = printer.status()
    message = Translator(cfg["ui.language"])(st.reason) if st.reason else ""
    facts = {
        "printer": cfg["devices.printer"], "paper_mm": cfg["printer.paper_mm"],
        "mode": cfg["printer.text_mode"], "ready": st.ready, "online": st.online,
        "paper": st.paper.value, "cover_open": st.cover_open, "reason": st.reason,
        "message": message, "detail": st.detail,
    }
    if args.json:
        print(json.dumps(facts, ensure_ascii=False))
    else:
        yes = {True: "yes", False: "no"}
        print(f"printer   {facts['printer']} ({facts['paper_mm']} mm, {facts['mode']})")
        print(f"ready     {yes[st.ready]}")
        print(f"online    {yes[st.online]}")
        print(f"paper     {st.paper.value}")
        print(f"cover     {'open' if st.cover_open else 'closed'}")
        print(f"reason    {st.reason or '-'}{': ' + message if message else ''}")
        print(f"detail    {st.detail or '-'}")
    return 0 if st.ready else 1


def test_command(args: argparse.Namespace) -> int:
    """Print the test receipt in both languages through the same service the citizens use."""
    # Imported here: receipts are a service-layer idea; `printer status` needs none of it.
    from kiosk.services.printing import PrintService, StaffAlert, print_test_receipts

    cfg = config.load(args.config)
    _logging(cfg)
    printer = _open(cfg)
    if printer is None:
        print("printer   none: no receipt printer configured (devices.printer)")
        return 1

    def alert(a: StaffAlert) -> None:
        print(f"alert     {a.device} {a.reason}")

    with printer:
        outcomes = print_test_receipts(PrintService(printer, cfg, alert), cfg)
    for lang, outcome in zip(("zh_CN", "en"), outcomes):
        if outcome.printed:
            print(f"{lang:<9} printed reference={outcome.reference}")
        else:
            print(f"{lang:<9} not printed reason={outcome.device_reason} when={outcome.when}")
    return 0 if all(o.printed for o in outcomes) and len(outcomes) == 2 else 1


def _logging(cfg: config.Config) -> None:
    from kiosk.runtime import logs

    logs.setup(cfg["log.level"])
