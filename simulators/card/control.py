"""Line protocol to insert, pull and swap cards at run time (tests, `make run`).

One command per line over TCP (127.0.0.1), one reply line: `OK ...` or `ERR reason`.
See `HELP` below for the commands.
"""

from __future__ import annotations

import logging
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass

from simulators.card.personas import CardFacts, StateStore
from simulators.card.psam import Psam
from simulators.card.ssc import SscCard
from simulators.card.vpcd import Slot

log = logging.getLogger(__name__)

HELP = """\
INSERT <persona>      put a card in slot 0 (pulls the one there first)
SWAP <persona>        same as INSERT, named for readability
REMOVE                pull the card from slot 0 (even in the middle of an APDU)
STATUS                OK card=<persona|empty> connected=<0|1> psam=<0|1> apdus=<n>
PERSONAS              OK <id> <id> ...
STALL <n>             answer n more APDUs, then stay silent until REMOVE or a reset
WAIT-STALLED <s>      OK once an APDU is being held by STALL (ERR timeout after s seconds)
DELAY <ms>            delay every answer by ms
QUICKACK on|off       TCP_QUICKACK after each receive (off shows the ~40 ms latency trap)
COUNT [reset]         OK <APDUs answered on slot 0>
PSAM corrupt|good     make the PSAM answer wrong (or right) cryptograms
RESET-STATE [persona] forget PIN changes and tries (all personas, or one)
PIN <persona>         OK <pin> <tries_left>  (test aid: the card's current PIN state)
HELP                  this text (multi-line, ends with a line '.')
"""


@dataclass
class Emulator:
    """The running emulator: card slot, PSAM slot, the cards and their saved state."""

    cards: dict[str, CardFacts]
    store: StateStore
    slot: Slot
    psam_slot: Slot | None
    psam: Psam | None

    def insert(self, persona: str) -> None:
        facts = self.cards[persona]
        self.slot.insert(SscCard(facts, self.store), mute=facts.mute)

    def command(self, line: str) -> str:
        parts = line.split()
        if not parts:
            return "ERR empty"
        verb, args = parts[0].upper(), parts[1:]
        handler: Callable[[list[str]], str] | None = getattr(self, "_cmd_" + verb.replace("-", "_").lower(), None)
        if handler is None:
            return f"ERR unknown command {verb}"
        try:
            return handler(args)
        except (KeyError, IndexError, ValueError) as exc:
            return f"ERR bad arguments ({exc.__class__.__name__}: {exc})"

    def _cmd_insert(self, args: list[str]) -> str:
        if args[0] not in self.cards:
            return f"ERR unknown persona {args[0]}"
        self.insert(args[0])
        return f"OK inserted {args[0]}"

    _cmd_swap = _cmd_insert

    def _cmd_remove(self, args: list[str]) -> str:
        self.slot.remove()
        return "OK removed"

    def _cmd_status(self, args: list[str]) -> str:
        chip = self.slot.chip
        psam = int(self.psam_slot is not None and self.psam_slot.connected)
        return (f"OK card={chip.label if chip else 'empty'} connected={int(self.slot.connected)} "
                f"psam={psam} apdus={self.slot.apdu_count}")

    def _cmd_personas(self, args: list[str]) -> str:
        return "OK " + " ".join(sorted(self.cards))

    def _cmd_stall(self, args: list[str]) -> str:
        self.slot.stalled.clear()
        self.slot.stall_after = int(args[0])
        return "OK"

    def _cmd_wait_stalled(self, args: list[str]) -> str:
        return "OK" if self.slot.stalled.wait(float(args[0]) if args else 5.0) else "ERR timeout"

    def _cmd_delay(self, args: list[str]) -> str:
        self.slot.delay_s = int(args[0]) / 1000
        return "OK"

    def _cmd_quickack(self, args: list[str]) -> str:
        on = args[0].lower() in ("on", "1", "true")
        self.slot.quickack = on
        if self.psam_slot is not None:
            self.psam_slot.quickack = on
        return "OK"

    def _cmd_count(self, args: list[str]) -> str:
        n = self.slot.apdu_count
        if args and args[0].lower() == "reset":
            self.slot.apdu_count = 0
        return f"OK {n}"

    def _cmd_psam(self, args: list[str]) -> str:
        if self.psam is None:
            return "ERR no psam"
        self.psam.corrupt = args[0].lower() == "corrupt"
        return "OK"

    def _cmd_reset_state(self, args: list[str]) -> str:
        self.store.reset(args[0] if args else None)
        return "OK"

    def _cmd_pin(self, args: list[str]) -> str:
        state = self.store.get(self.cards[args[0]])
        return f"OK {state.pin} {state.tries_left}"

    def _cmd_help(self, args: list[str]) -> str:
        return HELP + "."


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        emulator: Emulator = self.server.emulator  # type: ignore[attr-defined]
        for raw in self.rfile:
            line = raw.decode("utf-8", errors="replace").strip()
            if line.upper() == "QUIT":
                return
            reply = emulator.command(line)
            log.info("event=control command=%s reply=%s", line.split(" ")[0].upper() if line else "-",
                     reply.split(" ", 1)[0])
            self.wfile.write((reply + "\n").encode())
            self.wfile.flush()


class ControlServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, emulator: Emulator, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.emulator = emulator

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="card-control", daemon=True)
        thread.start()
        return thread
