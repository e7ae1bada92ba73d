"""Card stack latency through the real path (pyscard -> pcscd -> vpcd -> emulator).

`apdu_round_trip()` starts its own pcscd and emulator (so no other pcscd may run: `make bench`
runs under the card-stack lock) and returns medians in ms:

card.raw_apdu_ms_p50            bare pyscard `connection.transmit` of SELECT, same pcscd and vpcd
card.apdu_ms_p50                the same APDU through the kiosk's adapter (PcscReader.transmit)
card.apdu_ms_p50_no_quickack    the adapter with the emulator's TCP_QUICKACK off: the ~40 ms
                                Nagle/delayed-ACK trap the emulator avoids
card.read_identity_ms_p50       a whole identity read (SscCard.read_identity)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from simulators.card.stack import CardStack

READER = "Virtual PCD 00 00"
SELECT_SSC = bytes.fromhex("00A404000F") + "sx1.sh.社会保障".encode("gbk")


def _median_ms(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 3)


def _raw_transmit_ms(n: int) -> float:
    """pyscard alone: no adapter, no worker thread, no retry logic; the card session is shared
    and released before the adapter opens its own."""
    from smartcard.System import readers

    reader = next((r for r in readers() if str(r) == READER), None)
    if reader is None:
        raise RuntimeError(f"reader {READER!r} not listed by pcscd")
    conn = reader.createConnection()
    deadline = time.monotonic() + 5
    while True:
        try:
            conn.connect()
            break
        except Exception:  # the emulated card may not be seen by pcscd's poll yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    apdu = list(SELECT_SSC)
    try:
        _data, sw1, _sw2 = conn.transmit(apdu)  # open the session outside the timing
        if sw1 not in (0x90, 0x61):
            raise RuntimeError(f"SELECT answered SW1={sw1:02X}")
        return _median_ms(lambda: conn.transmit(apdu), n)
    finally:
        conn.disconnect()


def apdu_round_trip(n: int = 200, n_slow: int = 200, identities: int = 50) -> dict[str, float]:
    from kiosk.card.protocol import SscCard
    from kiosk.hw.reader_pcsc import PcscReader

    with CardStack(persona="second_gen") as stack:
        with PcscReader(READER, exchange_timeout_s=5.0) as reader:
            if not reader.wait_for_card(5):
                raise RuntimeError("emulated card did not appear")
            raw = _raw_transmit_ms(n)
            reader.transmit(SELECT_SSC)  # open the session outside the timing
            fast = _median_ms(lambda: reader.transmit(SELECT_SSC), n)
            card = SscCard(reader.transmit)
            ident_ms = _median_ms(card.read_identity, identities)
            apdus = card.read_identity().apdus
            stack.ctl("QUICKACK off")
            slow = _median_ms(lambda: reader.transmit(SELECT_SSC), n_slow)  # ~45 ms each: ~9 s
    return {
        "card.apdu_ms_p50": fast,
        "card.raw_apdu_ms_p50": raw,
        "card.apdu_ms_p50_no_quickack": slow,
        "card.read_identity_ms_p50": ident_ms,
        "card.apdus_per_identity": float(apdus),
    }


if __name__ == "__main__":
    print(apdu_round_trip())
