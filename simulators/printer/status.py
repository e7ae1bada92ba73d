"""The simulated printer's condition and the status bytes it reports for it.

Bit layouts follow the Epson ESC/POS reference for DLE EOT n (real-time status), GS r and ESC v.
"""

from __future__ import annotations

import enum

# Bits 1 and 4 are fixed to 1 in every DLE EOT answer; bits 0 and 7 are fixed to 0. A host tells
# a status byte from print data by this pattern (0xx1xx10).
_FIXED = 0x12


class PrinterState(enum.StrEnum):
    """What a technician could do to the printer: the conditions the simulator can be put in."""

    OK = "ok"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    # An error the printer recovers from by itself (e.g. print head too hot): it stops printing.
    OFFLINE = "offline"

    @property
    def printable(self) -> bool:
        """Whether data sent now ends up on paper."""
        return self in (PrinterState.OK, PrinterState.PAPER_NEAR_END)

    @classmethod
    def parse(cls, text: str) -> PrinterState:
        """Accept the value, case-insensitive, with '-' or '_'."""
        return cls(text.strip().lower().replace("-", "_"))


def dle_eot(state: PrinterState, n: int) -> bytes:
    """Answer to DLE EOT n; empty for functions a printer does not answer."""
    if n == 1:  # printer status: bit 3 offline
        return bytes([_FIXED | (0x08 if not state.printable else 0)])
    if n == 2:  # offline cause: bit 2 cover open, bit 5 stopped by paper end, bit 6 error
        bits = {
            PrinterState.COVER_OPEN: 0x04,
            PrinterState.PAPER_OUT: 0x20,
            PrinterState.OFFLINE: 0x40,
        }.get(state, 0)
        return bytes([_FIXED | bits])
    if n == 3:  # error cause: bit 6 auto-recoverable error
        return bytes([_FIXED | (0x40 if state is PrinterState.OFFLINE else 0)])
    if n == 4:  # roll paper sensor: bits 2-3 near end, bits 5-6 paper end
        return bytes([_FIXED | _paper_bits(state, near=0x0C, out=0x60)])
    return b""


def gs_r(state: PrinterState, n: int) -> bytes:
    """Answer to GS r n (transmit status, processed in order with the data)."""
    if n in (1, 49):  # paper sensor: bits 0-1 near end, bits 2-3 paper end
        return bytes([_paper_bits(state, near=0x03, out=0x0C)])
    if n in (2, 50):  # drawer kick-out connector: nothing attached
        return b"\x00"
    return b""


def esc_v(state: PrinterState) -> bytes:
    """Answer to the older ESC v (transmit paper sensor status): same layout as GS r 1."""
    return gs_r(state, 1)


def _paper_bits(state: PrinterState, near: int, out: int) -> int:
    if state is PrinterState.PAPER_OUT:
        # The near-end sensor sits before the end sensor, so it sees no paper either.
        return near | out
    if state is PrinterState.PAPER_NEAR_END:
        return near
    return 0
