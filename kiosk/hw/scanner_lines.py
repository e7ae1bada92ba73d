"""Lines from a barcode scanner in its serial (USB CDC / virtual COM) mode: each decoded code is
sent as text followed by a terminator (CR, LF or CRLF: a setting of the scanner), some scanners
put a prefix before it. docs/scanner.md says where these facts come from.

LineAssembler turns the bytes as they arrive (in any chunks) into codes or rejections, strictly:
a line longer than MAX_CODE_CHARS, a control byte inside a line, or bytes that are not UTF-8 are
rejected (the whole line, up to its terminator), never truncated into something that looks like
a code. Pure: no I/O, no clock; the adapter decides when a partial line is stale.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_CODE_CHARS = 512  # an e-card token is at most 192; a bureau ECardToken at most 512
SUFFIXES = {"auto": b"", "cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}


@dataclass(frozen=True)
class Line:
    """One complete line: `code` is the text (prefix removed) or None when rejected (`why`)."""

    code: str | None
    why: str = ""  # too_long | non_printable | not_utf8 | no_prefix
    length: int = 0  # bytes, for the log (never the text)


def parse_prefix(text: str) -> bytes:
    """A prefix setting: `none`/empty, hex bytes (`02`, `5d5131`) or printable text (`]Q1` is
    not hex, so taken as text)."""
    if text in ("", "none"):
        return b""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = text.encode("ascii")
    if len(raw) > 16:
        raise ValueError(f"prefix longer than 16 bytes: {text!r}")
    return raw


class LineAssembler:
    """Bytes in, Lines out. `suffix` is auto (CR, LF or CRLF each end a line; an empty line is
    skipped, so CRLF is one terminator), cr, lf or crlf (only that ends a line; any other control
    byte inside a line rejects it). `prefix`, when set, must open every line and is removed."""

    def __init__(self, suffix: str = "auto", prefix: bytes = b"", max_chars: int = MAX_CODE_CHARS) -> None:
        if suffix not in SUFFIXES:
            raise ValueError(f"unknown suffix {suffix!r}; one of {', '.join(SUFFIXES)}")
        self.suffix, self.prefix, self.max_chars = suffix, prefix, max_chars
        self.max_bytes = len(prefix) + 4 * max_chars  # UTF-8: at most 4 bytes a character
        self._buf = bytearray()
        self._overflow = False  # dropping the rest of a too-long line, up to its terminator

    @property
    def pending(self) -> int:
        """Bytes of a line begun and not yet ended (0 while dropping an overlong one)."""
        return 0 if self._overflow else len(self._buf)

    def drop_partial(self) -> int:
        """Forget a line begun and never ended; how many bytes were dropped."""
        n = len(self._buf)
        self._buf.clear()
        self._overflow = False
        return n

    def feed(self, data: bytes) -> list[Line]:
        out: list[Line] = []
        self._buf += data
        while True:
            end, term_len = self._terminator()
            if end < 0:
                if len(self._buf) > self.max_bytes:  # no end in sight: drop now, say it once
                    if not self._overflow:
                        out.append(Line(None, "too_long", len(self._buf)))
                    self._overflow = True
                    self._buf.clear()
                return out
            raw = bytes(self._buf[:end])
            del self._buf[:end + term_len]
            if self._overflow:  # the tail of a line already rejected
                self._overflow = False
                continue
            if raw:
                out.append(self._judge(raw))

    def _terminator(self) -> tuple[int, int]:
        if self.suffix != "auto":
            sep = SUFFIXES[self.suffix]
            return self._buf.find(sep), len(sep)
        cr, lf = self._buf.find(b"\r"), self._buf.find(b"\n")
        ends = [i for i in (cr, lf) if i >= 0]
        return (min(ends), 1) if ends else (-1, 0)

    def _judge(self, raw: bytes) -> Line:
        n = len(raw)
        if self.prefix:
            if not raw.startswith(self.prefix):
                return Line(None, "no_prefix", n)
            raw = raw[len(self.prefix):]
        if any(b < 0x20 or b == 0x7F for b in raw):
            return Line(None, "non_printable", n)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Line(None, "not_utf8", n)
        if len(text) > self.max_chars:
            return Line(None, "too_long", n)
        if not text.isprintable():  # C1 controls, separators and the like
            return Line(None, "non_printable", n)
        return Line(text, "", n)
