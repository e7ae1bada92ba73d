"""ISO 7816-4 transport chores on top of a raw exchange: GET RESPONSE on 61xx, resend on 6Cxx.

Generic (no social security knowledge), so both the PC/SC adapter and the card protocol can use
it; applied twice it is harmless, because a completed reply never carries 61xx or 6Cxx.
"""

from __future__ import annotations

from collections.abc import Callable

RawTransmit = Callable[[bytes], tuple[bytes, int]]

MAX_CHAINED = 16  # GET RESPONSE rounds before we stop believing the card


def with_le(apdu: bytes, le: int) -> bytes:
    """The same command with Le replaced (case 2/4) or added (case 1/3)."""
    if len(apdu) == 5:  # case 2: header + Le
        return apdu[:4] + bytes((le,))
    if len(apdu) > 5:
        lc = apdu[4]
        if len(apdu) == 6 + lc:  # case 4: drop the old Le
            return apdu[:-1] + bytes((le,))
        return apdu + bytes((le,))  # case 3
    return apdu + bytes((le,))  # case 1


def complete(raw: RawTransmit, apdu: bytes) -> tuple[bytes, int]:
    """Send apdu; follow 61xx with GET RESPONSE and 6Cxx with one resend carrying the right Le."""
    data, sw = raw(apdu)
    if sw >> 8 == 0x6C:
        data, sw = raw(with_le(apdu, sw & 0xFF))
    out = bytearray(data)
    rounds = 0
    while sw >> 8 == 0x61 and rounds < MAX_CHAINED:
        rounds += 1
        cla = apdu[0] & 0x03 if apdu else 0  # keep the logical channel, drop proprietary class bits
        data, sw = raw(bytes((cla, 0xC0, 0x00, 0x00, sw & 0xFF)))
        if sw >> 8 == 0x6C:
            data, sw = raw(bytes((cla, 0xC0, 0x00, 0x00, sw & 0xFF)))
        out += data
    return bytes(out), sw
