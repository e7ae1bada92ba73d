"""Command line of the barcode scanner simulator: `python -m simulators.scanner`.

Prints one line `ready device=/dev/pts/N control_port=P` once the pty is open; the kiosk then uses
`KIOSK_SCANNER=serial:/dev/pts/N` (or `sim` with KIOSK_SIM_SCANNER_DEVICE=/dev/pts/N). Stops on
SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from simulators.scanner.control import HELP, ControlServer
from simulators.scanner.scanner import SUFFIXES, ScannerSim


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m simulators.scanner",
        description="Barcode scanner in USB-serial (CDC) mode on a pseudo-terminal.",
        epilog="Control protocol (--control-port, one line per command):\n" + HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--control-port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    p.add_argument("--suffix", choices=tuple(SUFFIXES), default="cr", help="what ends each code (default cr)")
    p.add_argument("--prefix", default="", help="hex bytes sent before each code (default none)")
    p.add_argument("--scan", help="scan this text once at start")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sim = ScannerSim(args.suffix, bytes.fromhex(args.prefix)).start()
    server = ControlServer(sim, args.control_port).start()
    print(f"ready device={sim.device} control_port={server.port}", flush=True)
    if args.scan:
        sim.scan(args.scan)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    sim.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
