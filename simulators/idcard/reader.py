"""A SAM-module ID card reader on a pseudo-terminal: the kiosk opens the pty's slave side as it
would open /dev/ttyUSB0, and this answers GA 467 commands from its master side.

Faults a test or a technician can set (Python API below, or the control lines of control.py):
a card pulled mid-read, a reply cut short, a corrupt checksum, a missing SAM, slow replies.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import tty
from dataclasses import dataclass, field

from simulators.idcard.cards import IdCard, load_cards
from simulators.idcard.wire import CommandStream, reply

log = logging.getLogger(__name__)

FAULTS = ("corrupt", "pull", "short", "silent")  # one-shot faults, for the next reply


@dataclass
class ReaderState:
    card: IdCard | None = None
    sam: str = "ok"  # ok | missing (every command answers 60) | silent (no answer at all)
    delay_s: float = 0.0
    faults: list[str] = field(default_factory=list)
    commands: int = 0
    reads: int = 0


class IdCardReaderSim:
    """Open with `IdCardReaderSim(persona="wang").start()`; `.device` is the path to open."""

    def __init__(self, persona: str | None = None, cards: dict[str, IdCard] | None = None) -> None:
        self.cards = cards if cards is not None else load_cards()
        self.state = ReaderState()
        self.lock = threading.Lock()
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no line discipline: bytes as they are
        self.device = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="idcard-sim", daemon=True)
        if persona:
            self.insert(persona)

    def start(self) -> IdCardReaderSim:
        self._thread.start()
        log.info("event=idcard_sim_ready device=%s cards=%d", self.device, len(self.cards))
        return self

    # ------------------------------------------------------------------ the API tests use
    def insert(self, persona: str) -> None:
        if persona not in self.cards:
            raise KeyError(persona)
        with self.lock:
            self.state.card = self.cards[persona]

    def remove(self) -> None:
        with self.lock:
            self.state.card = None

    def fault(self, name: str, times: int = 1) -> None:
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; one of {', '.join(FAULTS)}")
        with self.lock:
            self.state.faults.extend([name] * times)

    def clear(self) -> None:
        with self.lock:
            self.state.faults.clear()
            self.state.sam, self.state.delay_s = "ok", 0.0

    def set_sam(self, mode: str) -> None:
        if mode not in ("ok", "missing", "silent"):
            raise ValueError(f"unknown SAM mode {mode!r}")
        with self.lock:
            self.state.sam = mode

    def set_delay(self, seconds: float) -> None:
        with self.lock:
            self.state.delay_s = max(0.0, seconds)

    def status(self) -> str:
        s = self.state
        card = s.card.persona if s.card else "empty"
        return (f"card={card} sam={s.sam} delay_ms={int(s.delay_s * 1000)} faults={','.join(s.faults) or '-'} "
                f"commands={s.commands} reads={s.reads}")

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> IdCardReaderSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<IdCardReaderSim {self.device} {self.status()}>"

    # ------------------------------------------------------------------ the reader
    def _serve(self) -> None:
        stream = CommandStream()
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for command in stream.feed(data):
                out = self._answer(command)
                if out:
                    os.write(self.master, out)

    def _answer(self, command: tuple[int, int, bytes] | tuple[str, int]) -> bytes:
        with self.lock:
            s = self.state
            s.commands += 1
            is_read = command[:2] == (0x30, 0x01)
            # a card pulled mid-read waits for the read; the others hit the next reply
            fault = s.faults.pop(0) if s.faults and (s.faults[0] != "pull" or is_read) else ""
            delay, sam = s.delay_s, s.sam
        if delay:
            time.sleep(delay)
        if sam == "silent" or fault == "silent":
            return b""
        if command[0] == "bad":
            return reply(0x10)
        cmd, para = command[0], command[1]
        sw3, data = (0x60, b"") if sam == "missing" else self._result(int(cmd), int(para), fault)
        frame = reply(sw3, data, corrupt=fault == "corrupt")
        if fault == "short":
            frame = frame[:len(frame) // 2]
        log.info("event=idcard_sim_command cmd=%02X%02X sw3=%02X fault=%s", cmd, para, sw3, fault or "-")
        return frame

    def _result(self, cmd: int, para: int, fault: str) -> tuple[int, bytes]:
        card = self.state.card
        if (cmd, para) == (0x11, 0xFF):
            return 0x90, b""
        if (cmd, para) == (0x20, 0x01):
            return (0x9F, bytes(4)) if card else (0x80, b"")
        if (cmd, para) == (0x20, 0x02):
            return (0x90, bytes(8)) if card else (0x81, b"")
        if (cmd, para) == (0x30, 0x01):
            if fault == "pull":
                self.remove()
                return 0x41, b""
            if card is None:
                return 0x41, b""
            text, photo = card.text_block(), card.photo_block()
            with self.lock:
                self.state.reads += 1
            return 0x90, len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big") + text + photo
        return 0x21, b""
