"""The reader's side of the GA 467 serial frames, written from the public descriptions in
docs/idcard-protocol.md (not from the kiosk's client): commands in, replies out."""

from __future__ import annotations

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"


def xor(data: bytes) -> int:
    out = 0
    for b in data:
        out ^= b
    return out


def reply(sw3: int, data: bytes = b"", corrupt: bool = False) -> bytes:
    """A reply frame: preamble, length (SW1 SW2 SW3 + data + checksum), status, data, checksum."""
    body = (len(data) + 4).to_bytes(2, "big") + bytes((0, 0, sw3)) + data
    chk = xor(body) ^ (0x5A if corrupt else 0)
    return PREAMBLE + body + bytes([chk])


class CommandStream:
    """Bytes from the line in, whole commands (cmd, para, data) out; a frame with a bad checksum
    comes out as ("bad", checksum) so the reader can answer 10 as a real one does."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, bytes] | tuple[str, int]]:
        self.buf += data
        out: list[tuple[int, int, bytes] | tuple[str, int]] = []
        while True:
            start = self.buf.find(PREAMBLE)
            if start < 0:
                del self.buf[:max(0, len(self.buf) - 4)]
                return out
            del self.buf[:start]
            if len(self.buf) < 7:
                return out
            length = int.from_bytes(self.buf[5:7], "big")
            if len(self.buf) < 7 + length:
                return out
            frame = bytes(self.buf[:7 + length])
            del self.buf[:7 + length]
            if length < 3 or xor(frame[5:-1]) != frame[-1]:
                out.append(("bad", frame[-1]))
            else:
                out.append((frame[7], frame[8], frame[9:-1]))
