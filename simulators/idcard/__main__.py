"""Command line of the ID card reader simulator: `python -m simulators.idcard --persona wang`.

Prints one line `ready device=/dev/pts/N control_port=P` once the reader answers; the kiosk then
uses `KIOSK_IDCARD=serial:/dev/pts/N`. Stops on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from simulators.idcard.cards import load_cards
from simulators.idcard.control import HELP, ControlServer
from simulators.idcard.reader import IdCardReaderSim


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m simulators.idcard",
        description="Resident ID card reader (GA 467 over a serial line) on a pseudo-terminal.",
        epilog="Control protocol (--control-port, one line per command):\n" + HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--persona", help="card on the reader at start (default: none)")
    p.add_argument("--control-port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    p.add_argument("--sam", choices=("ok", "missing", "silent"), default="ok", help="the security module")
    p.add_argument("--delay-ms", type=int, default=0, help="delay every reply")
    p.add_argument("--list", action="store_true", help="list the personas and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="log every command")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    cards = load_cards()
    if args.list:
        for persona, card in sorted(cards.items()):
            print(f"{persona:12s} valid_until={card.fields['valid_until']}")
        return 0
    if args.persona and args.persona not in cards:
        print(f"unknown persona {args.persona!r}; try --list", file=sys.stderr)
        return 2
    sim = IdCardReaderSim(args.persona, cards)
    sim.set_sam(args.sam)
    sim.set_delay(args.delay_ms / 1000)
    sim.start()
    server = ControlServer(sim, args.control_port).start()
    print(f"ready device={sim.device} control_port={server.port}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    sim.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
