"""Incremental ESC/POS tokenizer: a byte stream in, complete commands out.

Written from the Epson ESC/POS command reference; knows the length of every common command so
that anything it does not execute can still be skipped without losing sync with the stream.
"""

from __future__ import annotations

from dataclasses import dataclass

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
EOT, ENQ, DC4 = 0x04, 0x05, 0x14

# A declared payload larger than this is treated as line noise: a real 80 mm printer cannot use it,
# and waiting for gigabytes announced by two garbage bytes would stall the connection.
MAX_PAYLOAD = 4 * 1024 * 1024

# Fixed number of parameter bytes after the command letter (from the ESC/POS reference).
_ESC_FIXED: dict[int, int] = {
    **{ord(c): 0 for c in "@2<LSimv"},
    **{ord(c): 1 for c in " !%-3=?EGJKMRTUVadertu{A+^"},
    **{ord(c): 2 for c in "$\\cfB"},
    ord("p"): 3,
    ord("W"): 8,
}
_GS_FIXED: dict[int, int] = {
    **{ord(c): 0 for c in ":c"},
    **{ord(c): 1 for c in "!/BEHITabfhjrw|"},
    **{ord(c): 2 for c in "$LPW\\z"},
    ord("^"): 3,
}
_FS_FIXED: dict[int, int] = {
    **{ord(c): 0 for c in "&."},
    **{ord(c): 1 for c in "!-CW"},
    **{ord(c): 2 for c in "Sp?"},
    ord("2"): 74,  # c1 c2 + 72 bytes of a user-defined 24x24 glyph
}
_SINGLE = {0x0A: "LF", 0x0D: "CR", 0x09: "HT", 0x0C: "FF", 0x18: "CAN", 0x00: "NUL"}


@dataclass(frozen=True)
class Command:
    """One complete command (or a run of text bytes) as it arrived on the wire."""

    name: str  # "text", "LF", "ESC a", "GS v 0", "DLE EOT", "unknown", "invalid", ...
    args: bytes = b""  # fixed parameter bytes
    data: bytes = b""  # variable payload (text bytes, image data, QR data)
    raw: bytes = b""  # every byte of the command, for the receipt's .bin file


class _NeedMore(Exception):
    """The buffer ends inside a command; wait for the next chunk."""


def _letter(b: int) -> str:
    return chr(b) if 0x21 <= b <= 0x7E else f"0x{b:02x}"


class EscPosParser:
    """Turns chunks of bytes into Commands; keeps an incomplete tail for the next chunk."""

    def __init__(self, max_payload: int = MAX_PAYLOAD) -> None:
        self._buf = bytearray()
        self._max_payload = max_payload

    @property
    def pending(self) -> int:
        """Bytes held back because they end inside a command."""
        return len(self._buf)

    def feed(self, chunk: bytes) -> list[Command]:
        """Append a chunk and return every command it completes."""
        self._buf += chunk
        out: list[Command] = []
        i = 0
        buf = self._buf
        while i < len(buf):
            b = buf[i]
            if b >= 0x20:
                j = i + 1
                while j < len(buf) and buf[j] >= 0x20:
                    j += 1
                data = bytes(buf[i:j])
                out.append(Command("text", data=data, raw=data))
                i = j
                continue
            try:
                cmd, n = self._control(buf, i)
            except _NeedMore:
                break
            out.append(Command(cmd.name, cmd.args, cmd.data, bytes(buf[i : i + n])))
            i += n
        del buf[:i]
        return out

    def close(self) -> Command | None:
        """End of stream: whatever is left is a truncated command."""
        if not self._buf:
            return None
        rest = bytes(self._buf)
        self._buf.clear()
        return Command("truncated", data=rest, raw=rest)

    # -- one command at buf[i] -> (command without raw, length) ---------------------------------

    def _control(self, buf: bytearray, i: int) -> tuple[Command, int]:
        b = buf[i]
        if b in _SINGLE:
            return Command(_SINGLE[b]), 1
        if b == ESC:
            return self._prefixed(buf, i, "ESC", _ESC_FIXED, self._esc_variable)
        if b == GS:
            return self._prefixed(buf, i, "GS", _GS_FIXED, self._gs_variable)
        if b == FS:
            return self._prefixed(buf, i, "FS", _FS_FIXED, self._fs_variable)
        if b == DLE:
            return self._dle(buf, i)
        return Command("unknown", data=bytes([b])), 1

    def _prefixed(self, buf, i, prefix, fixed, variable) -> tuple[Command, int]:
        letter = _byte(buf, i + 1)
        name = f"{prefix} {_letter(letter)}"
        found = variable(buf, i, letter, name)
        if found is not None:
            return found
        if letter in fixed:
            n = fixed[letter]
            return Command(name, args=_take(buf, i + 2, n)), 2 + n
        return Command("unknown", data=bytes(buf[i : i + 2])), 2

    def _payload(self, buf, start: int, length: int, name: str, header: int) -> tuple[Command, int]:
        """A command whose data length is declared in its header."""
        if length > self._max_payload:
            return Command("invalid", args=bytes(buf[start - header : start])), header
        data = _take(buf, start, length)
        return Command(name, args=bytes(buf[start - header : start]), data=data), header + length

    def _esc_variable(self, buf, i, letter, name) -> tuple[Command, int] | None:
        if letter == ord("*"):  # ESC * m nL nH d1..dk: column image, 1 or 3 bytes a column
            m, nl, nh = _take(buf, i + 2, 3)
            per_col = 3 if m in (32, 33) else 1
            return self._payload(buf, i + 5, (nl + nh * 256) * per_col, name, 5)
        if letter == ord("D"):  # ESC D n1..nk NUL: tab stops
            for j in range(i + 2, i + 2 + 33):
                if _byte(buf, j) == 0:
                    return Command(name, args=bytes(buf[i + 2 : j])), j - i + 1
            return Command("invalid", args=bytes(buf[i : i + 2])), 2
        if letter == ord("&"):  # ESC & y c1 c2 [x d1..d(y*x)]...: user-defined characters
            y, c1, c2 = _take(buf, i + 2, 3)
            j = i + 5
            for _ in range(max(0, c2 - c1 + 1)):
                x = _byte(buf, j)
                j += 1 + y * x
            _take(buf, i, j - i)
            return Command(name), j - i
        if letter == ord("("):  # ESC ( fn pL pH data
            fn, pl, ph = _take(buf, i + 2, 3)
            return self._payload(buf, i + 5, pl + ph * 256, f"ESC ( {_letter(fn)}", 5)
        return None

    def _gs_variable(self, buf, i, letter, name) -> tuple[Command, int] | None:
        if letter == ord("("):  # GS ( fn pL pH data
            fn, pl, ph = _take(buf, i + 2, 3)
            return self._payload(buf, i + 5, pl + ph * 256, f"GS ( {_letter(fn)}", 5)
        if letter == ord("8"):  # GS 8 fn p1 p2 p3 p4 data: the large form of GS ( L
            fn, p1, p2, p3, p4 = _take(buf, i + 2, 5)
            length = p1 | p2 << 8 | p3 << 16 | p4 << 24
            return self._payload(buf, i + 7, length, f"GS 8 {_letter(fn)}", 7)
        if letter == ord("V"):  # GS V m [n]: functions B, C and D carry a feed amount
            m = _byte(buf, i + 2)
            n = 1 if m in (65, 66, 97, 98, 103, 104) else 0
            return Command(name, args=_take(buf, i + 2, 1 + n)), 3 + n
        if letter == ord("v"):  # GS v 0 m xL xH yL yH d1..dk: raster bit image
            _zero, _m, xl, xh, yl, yh = _take(buf, i + 2, 6)
            return self._payload(buf, i + 8, (xl + xh * 256) * (yl + yh * 256), "GS v 0", 8)
        if letter == ord("Q"):  # GS Q 0 m xL xH yL yH d1..dk: variable-size raster image
            _zero, _m, xl, xh, yl, yh = _take(buf, i + 2, 6)
            return self._payload(buf, i + 8, (xl + xh * 256) * (yl + yh * 256), "GS Q 0", 8)
        if letter == ord("*"):  # GS * x y d1..d(x*y*8): downloaded bit image
            x, y = _take(buf, i + 2, 2)
            return self._payload(buf, i + 4, x * y * 8, name, 4)
        if letter == ord("k"):  # GS k m ...: 1D barcode, two syntaxes
            m = _byte(buf, i + 2)
            if m <= 6:
                for j in range(i + 3, min(len(buf), i + 3 + 256)):
                    if buf[j] == 0:
                        return Command(name, args=bytes([m]), data=bytes(buf[i + 3 : j])), j - i + 1
                if len(buf) < i + 3 + 256:
                    raise _NeedMore
                return Command("invalid", args=bytes(buf[i : i + 3])), 3
            n = _byte(buf, i + 3)
            return Command(name, args=bytes([m]), data=_take(buf, i + 4, n)), 4 + n
        if letter == ord("g"):  # GS g 0 m nL nH / GS g 2 m nL nH: maintenance counters
            return Command(name, args=_take(buf, i + 2, 4)), 6
        return None

    def _fs_variable(self, buf, i, letter, name) -> tuple[Command, int] | None:
        if letter == ord("("):  # FS ( fn pL pH data
            fn, pl, ph = _take(buf, i + 2, 3)
            return self._payload(buf, i + 5, pl + ph * 256, f"FS ( {_letter(fn)}", 5)
        if letter == ord("q"):  # FS q n [xL xH yL yH d1..dk]...: define NV bit images
            count = _byte(buf, i + 2)
            j = i + 3
            for _ in range(count):
                xl, xh, yl, yh = _take(buf, j, 4)
                size = (xl + xh * 256) * (yl + yh * 256) * 8
                if size > self._max_payload:
                    return Command("invalid", args=bytes(buf[i : i + 3])), 3
                j += 4 + size
            _take(buf, i, j - i)
            return Command(name), j - i
        return None

    def _dle(self, buf, i) -> tuple[Command, int]:
        letter = _byte(buf, i + 1)
        if letter == EOT:  # DLE EOT n [a]: real-time status
            n = _byte(buf, i + 2)
            extra = 1 if n in (7, 8) else 0
            return Command("DLE EOT", args=_take(buf, i + 2, 1 + extra)), 3 + extra
        if letter == ENQ:  # DLE ENQ n: real-time request
            return Command("DLE ENQ", args=_take(buf, i + 2, 1)), 3
        if letter == DC4:  # DLE DC4 fn ...: real-time pulse, power-off, buzzer...
            fn = _byte(buf, i + 2)
            n = {1: 2, 2: 2, 3: 2, 7: 1, 8: 7}.get(fn, 0)
            return Command("DLE DC4", args=_take(buf, i + 2, 1 + n)), 3 + n
        return Command("unknown", data=bytes(buf[i : i + 2])), 2


def _byte(buf: bytearray, j: int) -> int:
    if j >= len(buf):
        raise _NeedMore
    return buf[j]


def _take(buf: bytearray, start: int, n: int) -> bytes:
    if start + n > len(buf):
        raise _NeedMore
    return bytes(buf[start : start + n])
