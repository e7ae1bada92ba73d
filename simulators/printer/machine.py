"""The printer itself: print modes, the line buffer, the paper and the cutter.

Applies parsed commands the way the ESC/POS reference describes a thermal receipt printer in
standard mode; answers status requests for the current PrinterState.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PIL import Image

from . import graphics
from .images import ImageCommands
from .kvlog import log_event
from .paper import FONT_CELLS, KANJI_CELL, Bitmap, Glyph, Sheet, Style, TextLine
from .parser import Command
from .status import PrinterState, dle_eot, esc_v, gs_r

DEFAULT_LINE_SPACING = 30  # dots; ESC 2 ("about 1/6 inch")
MAX_SHEET_DOTS = 40_000  # about 5 m of paper: more is a runaway stream, not a receipt
MAX_OPS = 20_000
UNKNOWN_LOG_LIMIT = 10  # unknown commands logged one by one per connection
_ALIGN = {0: "left", 48: "left", 1: "center", 49: "center", 2: "right", 50: "right"}
_REALTIME = {"DLE EOT", "DLE ENQ", "DLE DC4"}
# Known commands with no visible effect in this simulator (drawer, buzzer, sensors, panel...).
_NO_EFFECT = {
    "ESC c", "ESC p", "ESC B", "ESC R", "ESC U", "ESC {", "ESC V", "ESC T", "ESC L", "ESC S",
    "ESC W", "ESC u", "ESC %", "ESC &", "ESC ?", "ESC (", "GS a", "GS b", "GS |", "GS H", "GS f",
    "GS h", "GS w", "GS P", "GS L", "GS W", "GS T", "GS ^", "GS E", "GS :", "GS *", "GS /", "GS g",
    "GS z", "GS j", "GS I", "FS C", "FS W", "FS p", "FS q", "FS 2", "FS ?", "FS (", "NUL", "CAN",
    "CR", "ESC <", "ESC +", "ESC A", "ESC e", "ESC K", "ESC f", "GS $", "GS \\",
}


class EscPosMachine(ImageCommands):
    """One printer's state; not thread-safe (the server serialises access)."""

    def __init__(self, width_dots: int, chinese_default: bool = False) -> None:
        self.width_dots = width_dots
        self.chinese_default = chinese_default
        self.state = PrinterState.OK
        self.discarded_bytes = 0
        self.unknown_commands = 0
        self._handlers: dict[str, Callable[[Command], bytes]] = {
            "text": self._text, "LF": self._lf, "HT": self._ht, "FF": self._lf,
            "ESC @": self._init, "ESC !": self._esc_bang, "GS !": self._gs_bang,
            "ESC E": self._bold, "ESC G": self._bold, "ESC -": self._underline,
            "FS -": self._underline, "ESC a": self._align, "ESC M": self._font,
            "GS B": self._invert, "ESC 0x20": self._char_spacing,
            "FS S": self._kanji_spacing, "FS !": self._fs_bang, "FS &": self._kanji_on,
            "FS .": self._kanji_off, "ESC t": self._code_table, "ESC 2": self._spacing,
            "ESC 3": self._spacing, "ESC d": self._feed_lines, "ESC J": self._feed_dots,
            "ESC D": self._tabs, "ESC $": self._abs_pos, "ESC \\": self._no_op,
            "ESC =": self._select, "GS V": self._cut, "ESC i": self._cut, "ESC m": self._cut,
            "GS v 0": self._raster, "GS Q 0": self._raster, "ESC *": self._column_image,
            "GS ( k": self._symbol, "GS ( L": self._graphics, "GS 8 L": self._graphics,
            "GS r": self._gs_r, "ESC v": self._esc_v, "GS k": self._barcode,
        }
        self._init(Command("ESC @"))
        self._new_sheet()

    # -- entry point ------------------------------------------------------------------------

    def apply(self, cmd: Command) -> tuple[bytes, Sheet | None]:
        """Execute one command; return the bytes to send back and a sheet if one was cut."""
        self._raw += cmd.raw
        if cmd.name in _REALTIME:
            return self._realtime(cmd), None
        if not self.state.printable or (not self._selected and cmd.name != "ESC ="):
            # Like a real printer, nothing reaches the paper; the host learns it only by asking.
            self.discarded_bytes += len(cmd.raw)
            self._discarded_pending += len(cmd.raw)
            return b"", None
        if self._mb_pending and cmd.name != "text":
            self._put("?", full=False)  # a GB18030 lead byte cut short by a command
            self._mb_pending = b""
        handler = self._handlers.get(cmd.name)
        if handler is None:
            if cmd.name in _NO_EFFECT:
                log_event("command_ignored", logging.DEBUG, cmd=cmd.name, hex=cmd.raw[:16].hex())
            else:
                self._unknown(cmd)
            return b"", None
        reply = handler(cmd)
        if self._y > MAX_SHEET_DOTS or len(self._ops) > MAX_OPS:
            log_event("paper_overflow", logging.WARNING, height_dots=self._y)
            return reply, self._finish("overflow")
        if self._cut_kind:
            return reply, self._finish(self._cut_kind)
        return reply, None

    def _unknown(self, cmd: Command) -> None:
        # Line noise produces thousands of these: log the first few, count the rest.
        self.unknown_commands += 1
        if self.unknown_commands <= UNKNOWN_LOG_LIMIT:
            kind = "invalid_length" if cmd.name == "invalid" else "unknown_command"
            log_event(kind, logging.WARNING, hex=cmd.raw[:16].hex())

    def take_unknown_count(self) -> int:
        """Unknown commands since the last call (the server logs the count per connection)."""
        n, self.unknown_commands = self.unknown_commands, 0
        return n

    def take_discarded(self) -> int:
        """Bytes discarded since the last call (for one log line per chunk)."""
        n, self._discarded_pending = self._discarded_pending, 0
        return n

    def tear_off(self, reason: str) -> Sheet | None:
        """Paper ran out or the simulator stops: whatever is printed so far is a sheet."""
        self._print_line(advance=None)
        if not self._ops:
            return None
        log_event("sheet_torn_off", reason=reason, height_dots=self._y)
        return self._finish("none")

    # -- real-time and in-order status -------------------------------------------------------

    def _realtime(self, cmd: Command) -> bytes:
        if cmd.name == "DLE EOT":
            reply = dle_eot(self.state, cmd.args[0])
            if not reply:
                log_event("status_unsupported", logging.WARNING, cmd="DLE EOT", n=cmd.args[0])
            return reply
        log_event("command_ignored", logging.DEBUG, cmd=cmd.name, hex=cmd.raw.hex())
        return b""

    def _gs_r(self, cmd: Command) -> bytes:
        return gs_r(self.state, cmd.args[0])

    def _esc_v(self, cmd: Command) -> bytes:
        return esc_v(self.state)

    # -- modes -------------------------------------------------------------------------------

    def _init(self, cmd: Command) -> bytes:
        self._style = Style()
        self._align_mode = "left"
        self._char_right = 0
        self._kanji_left = self._kanji_right = 0
        self._kanji_dw = self._kanji_dh = False
        self.chinese = self.chinese_default
        self._codec = "cp437"
        self._line_spacing = DEFAULT_LINE_SPACING
        self._tab_columns = list(range(8, 256, 8))
        self._selected = True
        self._qr = {"model": 50, "size": 3, "ecc": 48, "data": b""}
        self._line: list[Glyph] = []
        self._line_align = "left"
        self._mb_pending = b""
        return b""

    def _set_style(self, **changes: object) -> None:
        self._style = Style(**{**self._style.__dict__, **changes})

    def _esc_bang(self, cmd: Command) -> bytes:
        n = cmd.args[0]
        self._set_style(
            font=n & 1, bold=bool(n & 0x08), height=2 if n & 0x10 else 1,
            width=2 if n & 0x20 else 1, underline=1 if n & 0x80 else 0,
        )
        return b""

    def _gs_bang(self, cmd: Command) -> bytes:
        n = cmd.args[0]
        self._set_style(width=min((n >> 4 & 7) + 1, 8), height=min((n & 7) + 1, 8))
        return b""

    def _fs_bang(self, cmd: Command) -> bytes:
        n = cmd.args[0]
        self._kanji_dw, self._kanji_dh = bool(n & 0x04), bool(n & 0x08)
        return b""

    def _bold(self, cmd: Command) -> bytes:
        self._set_style(bold=bool(cmd.args[0] & 1))
        return b""

    def _underline(self, cmd: Command) -> bytes:
        n = cmd.args[0]
        self._set_style(underline={0: 0, 48: 0, 1: 1, 49: 1, 2: 2, 50: 2}.get(n, 0))
        return b""

    def _align(self, cmd: Command) -> bytes:
        self._align_mode = _ALIGN.get(cmd.args[0], self._align_mode)
        return b""

    def _font(self, cmd: Command) -> bytes:
        self._set_style(font=1 if cmd.args[0] in (1, 49) else 0)
        return b""

    def _invert(self, cmd: Command) -> bytes:
        self._set_style(invert=bool(cmd.args[0] & 1))
        return b""

    def _char_spacing(self, cmd: Command) -> bytes:
        self._char_right = cmd.args[0]
        return b""

    def _kanji_spacing(self, cmd: Command) -> bytes:
        self._kanji_left, self._kanji_right = cmd.args[0], cmd.args[1]
        return b""

    def _kanji_on(self, cmd: Command) -> bytes:
        self.chinese = True
        return b""

    def _kanji_off(self, cmd: Command) -> bytes:
        self.chinese = False
        return b""

    def _code_table(self, cmd: Command) -> bytes:
        codec = graphics.code_table_codec(cmd.args[0])
        if codec is None:
            log_event("code_table_unsupported", logging.WARNING, n=cmd.args[0], fallback="cp437")
        self._codec = codec or "cp437"
        return b""

    def _spacing(self, cmd: Command) -> bytes:
        self._line_spacing = cmd.args[0] if cmd.args else DEFAULT_LINE_SPACING
        return b""

    def _tabs(self, cmd: Command) -> bytes:
        self._tab_columns = [c for c in cmd.args if c]
        return b""

    def _select(self, cmd: Command) -> bytes:
        self._selected = bool(cmd.args[0] & 1)
        return b""

    def _no_op(self, cmd: Command) -> bytes:
        return b""

    # -- text --------------------------------------------------------------------------------

    def _text(self, cmd: Command) -> bytes:
        data, self._mb_pending = self._mb_pending + cmd.data, b""
        if not self.chinese:
            for ch in data.decode(self._codec, errors="replace"):
                self._put(ch, full=False)
            return b""
        i = 0
        while i < len(data):
            b = data[i]
            if b < 0x80:
                self._put(chr(b), full=False)
                i += 1
                continue
            if b in (0x80, 0xFF):  # not a GB18030 lead byte
                self._put("?", full=False)
                i += 1
                continue
            if i + 1 >= len(data):
                self._mb_pending = data[i:]
                break
            need = 4 if 0x30 <= data[i + 1] <= 0x39 else 2
            if i + need > len(data):
                self._mb_pending = data[i:]
                break
            for ch in data[i : i + need].decode("gb18030", errors="replace"):
                self._put(ch, full=True)
            i += need
        return b""

    def _put(self, ch: str, full: bool, bitmap: Image.Image | None = None) -> None:
        s = self._style
        if bitmap is not None:
            w, h = bitmap.size
        elif full:
            wm = max(s.width, 2 if self._kanji_dw else 1)
            hm = max(s.height, 2 if self._kanji_dh else 1)
            s = Style(s.bold, s.underline, wm, hm, s.invert, s.font)
            w = (KANJI_CELL[0] + self._kanji_left + self._kanji_right) * wm
            h = KANJI_CELL[1] * hm
        else:
            cw, chh = FONT_CELLS[s.font]
            w, h = (cw + self._char_right) * s.width, chh * s.height
        if self._line and self._line_width() + w > self.width_dots:
            self._print_line(advance=self._line_spacing)  # automatic wrap, as printers do
        if not self._line:
            self._line_align = self._align_mode  # ESC a counts only at the start of a line
        self._line.append(Glyph(ch, full, s, min(w, self.width_dots), h, bitmap))

    def _line_width(self) -> int:
        return sum(g.width for g in self._line)

    def _pad_to(self, x: int) -> None:
        gap = x - self._line_width()
        if gap > 0:
            if not self._line:
                self._line_align = self._align_mode
            self._line.append(Glyph(" ", False, self._style, gap, 0))

    def _ht(self, cmd: Command) -> bytes:
        col_w = FONT_CELLS[self._style.font][0] + self._char_right
        x = self._line_width()
        for col in self._tab_columns:
            if col * col_w > x and col * col_w <= self.width_dots:
                self._pad_to(col * col_w)
                break
        return b""

    def _abs_pos(self, cmd: Command) -> bytes:
        self._pad_to(min(cmd.args[0] + cmd.args[1] * 256, self.width_dots))
        return b""

    # -- paper motion --------------------------------------------------------------------------

    def _print_line(self, advance: int | None) -> None:
        """Print the line buffer; advance None means 'only as tall as the line'."""
        content = max((g.height for g in self._line), default=0)
        if self._line:
            free = self.width_dots - self._line_width()
            x = {"left": 0, "center": free // 2, "right": free}[self._line_align]
            placed = []
            for g in self._line:
                placed.append((x, g))
                x += g.width
            self._ops.append(TextLine(self._y, content, self._line_align, tuple(placed)))
            self._transcript.append(TextLine(0, 0, "", tuple(placed)).text)
        elif advance:
            self._transcript.append("")
        self._line = []
        self._y += content if advance is None else max(advance, content)

    def _lf(self, cmd: Command) -> bytes:
        self._print_line(advance=self._line_spacing)
        return b""

    def _feed_lines(self, cmd: Command) -> bytes:
        n = cmd.args[0]
        if self._line:
            self._print_line(advance=self._line_spacing if n else None)
            n -= 1 if n else 0
        self._y += n * self._line_spacing
        return b""

    def _feed_dots(self, cmd: Command) -> bytes:
        self._print_line(advance=cmd.args[0] if not self._line else max(cmd.args[0], 1))
        return b""

    def _cut(self, cmd: Command) -> bytes:
        self._print_line(advance=None)
        m = cmd.args[0] if cmd.args else (0 if cmd.name == "ESC i" else 1)
        if len(cmd.args) > 1:
            self._y += cmd.args[1]  # GS V functions B-D: feed n units, then cut
        self._cut_kind = "full" if m in (0, 48, 65, 97, 103) else "partial"
        return b""

    # -- sheets ------------------------------------------------------------------------------

    def _new_sheet(self) -> None:
        self._ops: list[TextLine | Bitmap] = []
        self._transcript: list[str] = []
        self._qr_payloads: list[str] = []
        self._y = 0
        self._raw = b""
        self._cut_kind = ""
        self._graphic: Image.Image | None = None
        self._discarded_pending = getattr(self, "_discarded_pending", 0)

    def _finish(self, cut: str) -> Sheet | None:
        if cut in ("full", "partial", "overflow"):
            self._transcript.append(f"[cut {cut}]")
        sheet = Sheet(
            self.width_dots, self._y, tuple(self._ops), tuple(self._transcript),
            tuple(self._qr_payloads), cut, self._raw,
        )
        empty = not sheet.ops
        self._new_sheet()
        if empty:
            log_event("cut_blank", cut=cut)
            return None
        return sheet
