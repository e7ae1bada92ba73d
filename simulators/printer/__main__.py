"""Command line: run the printer simulator until interrupted (see --help)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .kvlog import configure_stderr
from .server import CONTROL_HELP, WIDTHS, PrinterSimulator
from .status import PrinterState
from .store import Receipt


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m simulators.printer",
        description="ESC/POS network receipt printer simulator.\n"
        "Accepts print jobs on a TCP port (python-escpos Network), answers DLE EOT status\n"
        "queries, and writes every cut receipt to OUT as receipt-NNNN.png, .bin (raw bytes)\n"
        "and .txt (transcript). Paper out, cover open or offline: data is discarded.",
        epilog=CONTROL_HELP + "\n\nStdout: one 'ready ...' line, then 'receipt PATH' per receipt. "
        "Logs: key=value lines on stderr.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9100, help="print data port; 0 picks a free one")
    p.add_argument("--out", default="out/printer", help="folder for receipts (default out/printer)")
    p.add_argument("--width", type=int, choices=sorted(WIDTHS), default=58,
                   help="paper width in mm: 58 (384 dots) or 80 (576 dots)")
    p.add_argument("--control-port", type=int, default=None,
                   help="enable the line control protocol on this port (0 picks a free one)")
    p.add_argument("--state", default="ok", choices=[s.value for s in PrinterState],
                   help="initial printer condition")
    p.add_argument("--chinese-default", action="store_true",
                   help="power on in Chinese (GB18030) mode, like many printers sold in China; "
                   "by default the host must send FS & first")
    p.add_argument("--idle-timeout", type=float, default=60.0,
                   help="close a connection silent for this many seconds")
    p.add_argument("--verbose", action="store_true", help="also log ignored commands")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_stderr(logging.DEBUG if args.verbose else logging.INFO)

    def announce(receipt: Receipt) -> None:
        print(f"receipt {receipt.png}", flush=True)

    sim = PrinterSimulator(
        host=args.host, port=args.port, out_dir=args.out, width_dots=WIDTHS[args.width],
        state=args.state, control_port=args.control_port, chinese_default=args.chinese_default,
        idle_timeout=args.idle_timeout, on_receipt=announce,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    sim.start()
    print(
        f"ready host={sim.host} port={sim.port} control_port={sim.control_port or '-'} "
        f"width_dots={sim.width_dots} out={args.out}",
        flush=True,
    )
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
