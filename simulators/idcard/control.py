"""Line protocol to place, pull and swap ID cards and set faults at run time (tests, `make run`):
one command per line over TCP on 127.0.0.1, one reply line, `OK ...` or `ERR reason`."""

from __future__ import annotations

import socketserver
import threading

from simulators.idcard.reader import IdCardReaderSim

HELP = """\
INSERT <persona>      place a card on the reader (replaces the one there)
REMOVE                take the card away
STATUS                OK card=<persona|empty> sam=<ok|missing|silent> delay_ms=<n> faults=<..> commands=<n> reads=<n>
PERSONAS              OK <persona> <persona> ...
FAULT <name> [n]      the next n replies (default 1): corrupt (bad checksum), pull (card pulled
                      during the read: 41), short (reply cut in half), silent (no reply)
SAM ok|missing|silent the security module: missing answers 60 to everything, silent nothing
DELAY <ms>            delay every reply by ms
CLEAR                 no faults, SAM ok, no delay
HELP                  this text (multi-line, ends with a line '.')
"""


def command(sim: IdCardReaderSim, line: str) -> str:
    parts = line.split()
    if not parts:
        return "ERR empty"
    verb, args = parts[0].upper(), parts[1:]
    try:
        if verb == "INSERT":
            sim.insert(args[0])
            return f"OK inserted {args[0]}"
        if verb == "REMOVE":
            sim.remove()
            return "OK removed"
        if verb == "STATUS":
            return "OK " + sim.status()
        if verb == "PERSONAS":
            return "OK " + " ".join(sorted(sim.cards))
        if verb == "FAULT":
            sim.fault(args[0].lower(), int(args[1]) if len(args) > 1 else 1)
            return "OK"
        if verb == "SAM":
            sim.set_sam(args[0].lower())
            return "OK"
        if verb == "DELAY":
            sim.set_delay(int(args[0]) / 1000)
            return "OK"
        if verb == "CLEAR":
            sim.clear()
            return "OK"
        if verb == "HELP":
            return HELP + "."
    except (KeyError, IndexError, ValueError) as exc:
        return f"ERR bad arguments ({exc.__class__.__name__}: {exc})"
    return f"ERR unknown command {verb}"


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        sim: IdCardReaderSim = self.server.sim  # type: ignore[attr-defined]
        for raw in self.rfile:
            line = raw.decode("utf-8", errors="replace").strip()
            if line.upper() == "QUIT":
                return
            self.wfile.write((command(sim, line) + "\n").encode())
            self.wfile.flush()


class ControlServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sim: IdCardReaderSim, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.sim = sim

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> ControlServer:
        threading.Thread(target=self.serve_forever, name="idcard-control", daemon=True).start()
        return self
