"""Command line of the card emulator: `python -m simulators.card --persona activated`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from simulators.card.control import HELP, ControlServer, Emulator
from simulators.card.personas import CARDS_FILE, PERSONAS_FILE, StateStore, issuer_keys, load_cards
from simulators.card.psam import Psam
from simulators.card.vpcd import Slot

DEFAULT_STATE = Path.home() / ".cache" / "ssc-card-emulator" / "state.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m simulators.card",
        description="Social security card + PSAM emulator for pcscd's vpcd virtual reader.",
        epilog="Control protocol (--control-port, one line per command):\n" + HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--persona", help="card to insert at start (default: empty slot)")
    p.add_argument("--host", default="127.0.0.1", help="where vpcd (pcscd) listens")
    p.add_argument("--port", type=int, default=35963, help="vpcd port of the card slot")
    p.add_argument("--psam-port", type=int, default=35964, help="vpcd port of the PSAM slot")
    p.add_argument("--no-psam", action="store_true", help="leave the second slot empty")
    p.add_argument("--control-port", type=int, default=0,
                   help="TCP port on 127.0.0.1 for the control protocol (0: none)")
    p.add_argument("--cards", type=Path, default=CARDS_FILE, help="card facts (cards.toml)")
    p.add_argument("--personas", type=Path, default=PERSONAS_FILE, help="citizens (personas.toml)")
    p.add_argument("--state-file", type=Path, default=DEFAULT_STATE,
                   help="where PIN changes and tries left are kept across restarts")
    p.add_argument("--fresh", action="store_true", help="forget the saved card state at start")
    p.add_argument("--no-quickack", action="store_true",
                   help="do not set TCP_QUICKACK (shows the ~40 ms per APDU latency trap)")
    p.add_argument("--list", action="store_true", help="list the personas and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="log every APDU")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log = logging.getLogger("simulators.card")
    cards = load_cards(args.cards, args.personas)
    if args.list:
        for pid, f in sorted(cards.items()):
            flags = ["answer_61xx"] if f.answer_61xx else []
            flags += [f"mute={f.mute}"] if f.mute else []
            flags += [] if f.ssc_app else ["bank_only"]
            print(f"{pid:20s} gen={f.generation} expiry={f.expiry_date} {' '.join(flags)}")
        return 0
    if args.persona and args.persona not in cards:
        print(f"unknown persona {args.persona!r}; try --list", file=sys.stderr)
        return 2
    store = StateStore(args.state_file)
    if args.fresh:
        store.reset()
    quickack = not args.no_quickack
    slot = Slot(args.host, args.port, quickack=quickack)
    psam = psam_slot = None
    if not args.no_psam:
        terminal_keys, card_auth_keys = issuer_keys(args.cards, args.personas)
        psam = Psam(keys=terminal_keys, auth_keys=card_auth_keys)
        psam_slot = Slot(args.host, args.psam_port, quickack=quickack)
        psam_slot.insert(psam)
    emulator = Emulator(cards, store, slot, psam_slot, psam)
    if args.persona:
        emulator.insert(args.persona)
    server = None
    if args.control_port:
        server = ControlServer(emulator, "127.0.0.1", args.control_port)
        server.start()
    log.info("event=emulator_ready port=%d psam_port=%s control_port=%d cards=%d quickack=%s",
             args.port, "-" if args.no_psam else args.psam_port, args.control_port, len(cards), quickack)
    print("READY", flush=True)  # for supervisors that wait for start-up on stdout

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    if server is not None:
        server.shutdown()
    slot.close()
    if psam_slot is not None:
        psam_slot.close()
    log.info("event=emulator_stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
