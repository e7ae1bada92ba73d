"""Line protocol to scan codes and set faults at run time (tests, `make run`): one command per line
over TCP on 127.0.0.1, one reply line, `OK ...` or `ERR reason`."""

from __future__ import annotations

import socketserver
import threading

from simulators.scanner.scanner import ScannerSim

HELP = """\
SCAN <text>           the scanner reads a code holding <text> (the rest of the line, as is)
FAULT garbage         control and non-UTF-8 bytes, then the suffix
FAULT partial [text]  the first half of a code and no suffix (the cable pulled mid-code)
FAULT long            a code of 600 characters, then the suffix
SUFFIX cr|lf|crlf|none what ends each code
PREFIX <hex>|none     bytes sent before each code (e.g. 02 for STX)
STATUS                OK suffix=.. prefix=.. scans=<n> faults=<n> bytes_from_host=<n>
HELP                  this text (multi-line, ends with a line '.')
"""


def command(sim: ScannerSim, line: str) -> str:
    verb, _, rest = line.strip().partition(" ")
    verb = verb.upper()
    try:
        if not verb:
            return "ERR empty"
        if verb == "SCAN":
            if not rest:
                return "ERR bad arguments (SCAN needs a text)"
            sim.scan(rest)
            return f"OK scanned {len(rest)} characters"
        if verb == "FAULT":
            name, _, text = rest.partition(" ")
            sim.fault(name.lower(), text)
            return f"OK fault {name.lower()}"
        if verb == "SUFFIX":
            sim.set_suffix(rest.strip().lower())
            return "OK"
        if verb == "PREFIX":
            value = rest.strip()
            sim.set_prefix(b"" if value.lower() in ("", "none") else bytes.fromhex(value))
            return "OK"
        if verb == "STATUS":
            return "OK " + sim.status()
        if verb == "HELP":
            return HELP + "."
    except ValueError as exc:
        return f"ERR bad arguments ({exc})"
    return f"ERR unknown command {verb}"


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        sim: ScannerSim = self.server.sim  # type: ignore[attr-defined]
        for raw in self.rfile:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line.strip().upper() == "QUIT":
                return
            self.wfile.write((command(sim, line) + "\n").encode())
            self.wfile.flush()


class ControlServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sim: ScannerSim, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.sim = sim

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> ControlServer:
        threading.Thread(target=self.serve_forever, name="scanner-control", daemon=True).start()
        return self
