"""vpcd client: one TCP link from a virtual card to one slot of the vpcd reader driver.

Written from the vpcd wire description (REFERENCE.md): frames are a 2-byte big-endian length
and a payload; one-byte payloads are control (0 off, 1 on, 2 reset, 4 get ATR), longer ones are
C-APDUs answered with data + SW. A closed socket is a card removal, so "inserted" means
"connected": the link reconnects by itself while a card is in the slot (pcscd restarts).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)

CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4
RECONNECT_S = 0.2
REMOVAL_HOLD_S = 0.5
GARBAGE_ATR = b"\xff\x00"


class Chip(Protocol):
    """What sits in a slot: a social security card or a PSAM."""

    label: str

    def atr(self) -> bytes: ...

    def power(self, on: bool) -> None: ...

    def reset(self) -> None: ...

    def apdu(self, command: bytes) -> bytes: ...


class Slot:
    """One vpcd slot (port). A worker thread keeps a connection open while a chip is inserted."""

    def __init__(self, host: str, port: int, quickack: bool = True) -> None:
        self.host, self.port, self.quickack = host, port, quickack
        self._chip: Chip | None = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closing = False
        self.apdu_count = 0
        self.delay_s = 0.0
        self.stall_after: int | None = None  # answer this many more APDUs, then go silent
        self.stalled = threading.Event()
        self.mute = ""  # "", "no_atr" (garbage ATR) or "silent" (never answers a command)
        self._thread = threading.Thread(target=self._run, name=f"vpcd-{port}", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        chip = self._chip.label if self._chip else "empty"
        return f"<Slot port={self.port} chip={chip} connected={self._sock is not None}>"

    @property
    def chip(self) -> Chip | None:
        return self._chip

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def insert(self, chip: Chip, mute: str = "") -> None:
        if self.remove():
            # pcscd only notices a removal if it polls (every 400 ms) while we are away;
            # reconnecting sooner would look like the same card staying in.
            time.sleep(REMOVAL_HOLD_S)
        with self._lock:
            self._chip, self.mute = chip, mute
            self.stall_after = None
            self.stalled.clear()
            self._wake.notify_all()
        log.info("event=card_inserted port=%d chip=%s mute=%s", self.port, chip.label, mute or "no")

    def remove(self) -> bool:
        """Pull the chip; True if one was connected to vpcd."""
        with self._lock:
            chip, self._chip = self._chip, None
            sock = self._sock
            self.stalled.clear()
        if sock is not None:
            # shutdown wakes the worker blocked in recv; vpcd sees the card go.
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if chip is not None:
            log.info("event=card_removed port=%d chip=%s", self.port, chip.label)
        return sock is not None

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._wake.notify_all()
        self.remove()
        self._thread.join(timeout=2)

    # --- worker
    def _run(self) -> None:
        while True:
            with self._lock:
                while self._chip is None and not self._closing:
                    self._wake.wait()
                if self._closing:
                    return
                chip = self._chip
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError:
                time.sleep(RECONNECT_S)  # pcscd (vpcd) not up yet: keep trying while inserted
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._chip is not chip:  # removed or swapped while connecting
                    sock.close()
                    continue
                self._sock = sock
            log.info("event=vpcd_connected port=%d chip=%s", self.port, chip.label)
            try:
                self._serve(sock, chip)
            except OSError as exc:
                log.info("event=vpcd_link_error port=%d error=%s", self.port, exc.__class__.__name__)
            finally:
                with self._lock:
                    self._sock = None
                sock.close()
                log.info("event=vpcd_disconnected port=%d", self.port)
            time.sleep(RECONNECT_S)

    def _recv_exact(self, sock: socket.socket, n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            part = sock.recv(n - len(buf))
            if not part:
                return None
            buf += part
            if self.quickack:
                # vpcd sends length and payload in two writes: without an immediate ACK, Nagle
                # on its side plus delayed ACK on ours costs ~40 ms per APDU. The flag is not
                # sticky in Linux, so it is set again after every receive.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return buf

    def _serve(self, sock: socket.socket, chip: Chip) -> None:
        while True:
            head = self._recv_exact(sock, 2)
            if head is None:
                return
            size = int.from_bytes(head, "big")
            payload = self._recv_exact(sock, size) if size else b""
            if payload is None:
                return
            reply = self._handle(chip, payload)
            if reply is not None:
                sock.sendall(len(reply).to_bytes(2, "big") + reply)

    def _handle(self, chip: Chip, payload: bytes) -> bytes | None:
        if len(payload) == 1:
            code = payload[0]
            if code == CTRL_ATR:
                # vpcd takes an empty ATR for "no card", so a chip that gives no ATR is shown
                # as an ATR no protocol matches: pcscd sees a card it cannot talk to.
                return GARBAGE_ATR if self.mute == "no_atr" else chip.atr()
            if code in (CTRL_ON, CTRL_OFF):
                chip.power(code == CTRL_ON)
            elif code == CTRL_RESET:
                self._unstall()
                chip.reset()
            return None
        self.apdu_count += 1
        if self.mute == "silent":
            self.stalled.set()
            return None
        if self.stall_after is not None:
            if self.stall_after <= 0:
                self.stalled.set()
                log.info("event=apdu_stalled port=%d ins=%02X", self.port, payload[1] if len(payload) > 1 else 0)
                return None
            self.stall_after -= 1
        if self.delay_s:
            time.sleep(self.delay_s)
        return chip.apdu(payload)

    def _unstall(self) -> None:
        # A reset is how a terminal gives up on a silent exchange: the chip comes back.
        if self.stalled.is_set():
            log.info("event=stall_cleared port=%d reason=reset", self.port)
        self.stall_after = None
        self.stalled.clear()
