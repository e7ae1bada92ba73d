"""The TCP front of the simulated printer: port 9100 for print data, a line protocol for control.

`PrinterSimulator` is the in-process API; `python -m simulators.printer` wraps it for a shell.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .kvlog import log_event
from .machine import EscPosMachine
from .paper import Sheet
from .parser import Command, EscPosParser
from .status import PrinterState
from .store import Receipt, ReceiptStore

WIDTHS = {58: 384, 80: 576}
CONTROL_HELP = """\
Control protocol (one command a line, one answer line each):
  STATE                  -> STATE <state>
  STATE <state>          -> OK   (ok|paper_near_end|paper_out|cover_open|offline)
  STATE <state> AFTER <n> -> OK  (switch once n more bytes of print data have arrived, e.g.
                                 paper running out in the middle of a receipt)
  COUNT                  -> COUNT <receipts written>
  LAST                   -> LAST <path of the newest PNG> | LAST none
  WAIT <n> [seconds]     -> COUNT <m> once m >= n receipts exist | ERR timeout
  DISCARDED              -> DISCARDED <bytes thrown away while not printable>
  PING                   -> PONG
  QUIT                   -> BYE (closes the control connection)
Anything else          -> ERR <reason>"""


class PrinterSimulator:
    """An ESC/POS network printer on `host:port` that saves every cut receipt in `out_dir`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9100,
        out_dir: str | Path = "out/printer",
        width_dots: int = 384,
        state: PrinterState | str = PrinterState.OK,
        control_port: int | None = None,
        chinese_default: bool = False,
        idle_timeout: float = 60.0,
        on_receipt: Callable[[Receipt], None] | None = None,
    ) -> None:
        self.host = host
        self._requested = (port, control_port)
        self.port = port
        self.control_port = control_port
        self.width_dots = width_dots
        self.idle_timeout = idle_timeout
        self._machine = EscPosMachine(width_dots, chinese_default=chinese_default)
        self._machine.state = PrinterState.parse(state) if isinstance(state, str) else state
        self._store = ReceiptStore(Path(out_dir))
        self._on_receipt = on_receipt
        self._lock = threading.Lock()  # the printer mechanism: one command at a time
        self._changed = threading.Condition()
        self._receipts: list[Receipt] = []
        self._listeners: list[socket.socket] = []
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._running = False
        self._trigger: tuple[int, PrinterState] | None = None  # (bytes to go, next state)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> PrinterSimulator:
        """Bind the ports and serve in background threads; returns self."""
        listener = self._listen(self._requested[0])
        self.port = listener.getsockname()[1]
        self._running = True
        self._spawn(self._accept_loop, listener, self._serve_printer, "print")
        if self._requested[1] is not None:
            control = self._listen(self._requested[1])
            self.control_port = control.getsockname()[1]
            self._spawn(self._accept_loop, control, self._serve_control, "control")
        log_event(
            "ready", host=self.host, port=self.port, control_port=self.control_port or "-",
            width_dots=self.width_dots, state=self.state.value, out=self._store.out_dir,
        )
        return self

    def stop(self) -> None:
        """Close every socket, join the threads, and save any printed but uncut paper."""
        if not self._running:
            return
        self._running = False
        for s in self._listeners + list(self._conns):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self._threads:
            t.join(timeout=5)
        with self._lock:
            sheet = self._machine.tear_off("stopped")
        self._save(sheet)
        log_event("stopped", receipts=len(self._receipts))

    def __enter__(self) -> PrinterSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"<PrinterSimulator {self.host}:{self.port} state={self.state.value} "
            f"width_dots={self.width_dots} receipts={len(self._receipts)} running={self._running}>"
        )

    # -- state and results -------------------------------------------------------------------

    @property
    def state(self) -> PrinterState:
        return self._machine.state

    def set_state(self, state: PrinterState | str) -> None:
        """Put the printer in a condition; running out of paper tears off what was printed."""
        new = PrinterState.parse(state) if isinstance(state, str) else state
        with self._lock:
            old, self._machine.state = self._machine.state, new
            sheet = self._machine.tear_off("paper_out") if new is PrinterState.PAPER_OUT else None
        log_event("state_changed", old=old.value, new=new.value)
        self._save(sheet)

    def set_state_after(self, nbytes: int, state: PrinterState | str) -> None:
        """Switch to `state` once `nbytes` more bytes of print data have arrived (any connection).

        The bytes before the switch are printed, the ones after it meet the new state, even
        inside one TCP segment: the way a roll runs out in the middle of a receipt.
        """
        new = PrinterState.parse(state) if isinstance(state, str) else state
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0")
        with self._lock:
            self._trigger = (nbytes, new)
        log_event("state_scheduled", new=new.value, after_bytes=nbytes)

    @property
    def receipts(self) -> list[Receipt]:
        """Receipts written so far, oldest first (a copy)."""
        with self._changed:
            return list(self._receipts)

    @property
    def discarded_bytes(self) -> int:
        """Bytes thrown away because the printer was not printable."""
        return self._machine.discarded_bytes

    def wait_for_receipts(self, count: int, timeout: float = 5.0) -> list[Receipt]:
        """Block until at least `count` receipts exist; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._receipts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    have = len(self._receipts)
                    raise TimeoutError(f"{have} of {count} receipts after {timeout}s")
                self._changed.wait(left)
            return list(self._receipts)

    # -- sockets -----------------------------------------------------------------------------

    def _listen(self, port: int) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, port))
        s.listen(8)
        self._listeners.append(s)
        return s

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name=f"printer-sim-{args[-1]}")
        self._threads.append(t)
        t.start()

    def _accept_loop(self, listener: socket.socket, serve: Callable, kind: str) -> None:
        while self._running:
            try:
                conn, peer = listener.accept()
            except OSError:
                return
            self._conns.add(conn)
            t = threading.Thread(target=self._guard, args=(serve, conn, peer), daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _guard(self, serve: Callable, conn: socket.socket, peer: tuple) -> None:
        try:
            conn.settimeout(self.idle_timeout)
            serve(conn, f"{peer[0]}:{peer[1]}")
        except Exception as exc:  # a bug here must cost one connection, never the printer
            log_event("connection_failed", logging.ERROR, error=repr(exc))
        finally:
            self._conns.discard(conn)
            conn.close()

    def _serve_printer(self, conn: socket.socket, peer: str) -> None:
        parser = EscPosParser()
        total = 0
        log_event("connection_opened", peer=peer)
        while self._running:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                log_event("connection_idle_timeout", logging.WARNING, peer=peer)
                break
            except OSError:
                break
            if not chunk:
                break
            total += len(chunk)
            reply = self._feed(parser, chunk)
            if reply:
                conn.sendall(reply)
        tail = parser.close()
        with self._lock:
            unknown = self._machine.take_unknown_count()
        if unknown:
            log_event("unknown_commands", logging.WARNING, peer=peer, count=unknown)
        if tail is not None:
            log_event("truncated_command", logging.WARNING, peer=peer, bytes=len(tail.raw),
                      hex=tail.raw[:16].hex())
        log_event("connection_closed", peer=peer, bytes=total)

    def _feed(self, parser: EscPosParser, chunk: bytes) -> bytes:
        # Split the chunk where a scheduled state change falls, so it lands on the exact byte.
        with self._lock:
            trigger = self._trigger
            if trigger is not None and trigger[0] > len(chunk):
                self._trigger = (trigger[0] - len(chunk), trigger[1])
                trigger = None
            elif trigger is not None:
                self._trigger = None
        if trigger is None:
            return self._process(parser.feed(chunk))
        at, state = trigger
        reply = self._process(parser.feed(chunk[:at]))
        self.set_state(state)
        return reply + self._process(parser.feed(chunk[at:])) if chunk[at:] else reply

    def _process(self, commands: list[Command]) -> bytes:
        replies: list[bytes] = []
        sheets: list[Sheet] = []
        with self._lock:
            for cmd in commands:
                try:
                    reply, sheet = self._machine.apply(cmd)
                except Exception as exc:  # keep printing the rest of the stream
                    log_event("command_failed", logging.ERROR, cmd=cmd.name, error=repr(exc))
                    continue
                replies.append(reply)
                if sheet is not None:
                    sheets.append(sheet)
            discarded = self._machine.take_discarded()
            state = self._machine.state.value
        if discarded:
            log_event("data_discarded", logging.WARNING, state=state, bytes=discarded)
        for sheet in sheets:
            self._save(sheet)
        return b"".join(replies)

    def _save(self, sheet: Sheet | None) -> None:
        if sheet is None:
            return
        receipt = self._store.write(sheet)
        with self._changed:
            self._receipts.append(receipt)
            self._changed.notify_all()
        if self._on_receipt is not None:
            self._on_receipt(receipt)

    # -- control protocol --------------------------------------------------------------------

    def _serve_control(self, conn: socket.socket, peer: str) -> None:
        reader = conn.makefile("rb")
        while self._running:
            try:
                line = reader.readline(1024)
            except (TimeoutError, OSError):
                return
            if not line:
                return
            answer = self.control(line.decode("utf-8", errors="replace"))
            conn.sendall(answer.encode("utf-8") + b"\n")
            if answer == "BYE":
                return

    def control(self, line: str) -> str:
        """Execute one control-protocol line and return the answer line (without newline)."""
        words = line.split()
        if not words:
            return "ERR empty command"
        cmd, args = words[0].upper(), words[1:]
        if cmd == "STATE" and not args:
            return f"STATE {self.state.value}"
        if cmd == "STATE":
            try:
                if len(args) == 3 and args[1].upper() == "AFTER":
                    self.set_state_after(int(args[2]), args[0])
                elif len(args) == 1:
                    self.set_state(args[0])
                else:
                    return "ERR usage: STATE <state> [AFTER <bytes>]"
            except ValueError:
                return f"ERR bad state or byte count {' '.join(args)}"
            return "OK"
        if cmd == "COUNT":
            return f"COUNT {len(self.receipts)}"
        if cmd == "LAST":
            receipts = self.receipts
            return f"LAST {receipts[-1].png}" if receipts else "LAST none"
        if cmd == "WAIT" and args:
            try:
                wanted, timeout = int(args[0]), float(args[1]) if args[1:] else 10.0
                return f"COUNT {len(self.wait_for_receipts(wanted, timeout))}"
            except TimeoutError:
                return "ERR timeout"
            except ValueError:
                return "ERR usage: WAIT <n> [seconds]"
        if cmd == "DISCARDED":
            return f"DISCARDED {self.discarded_bytes}"
        if cmd == "PING":
            return "PONG"
        if cmd == "QUIT":
            return "BYE"
        return f"ERR unknown command {cmd}"
