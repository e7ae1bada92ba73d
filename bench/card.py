"""Card stack latency through the real path (pyscard -> pcscd -> vpcd -> emulator).

`apdu_round_trip()` starts its own pcscd and emulator (so no other pcscd may run) and returns
medians in ms; the no-QUICKACK figure shows the ~40 ms Nagle/delayed-ACK trap it avoids.
"""

from __future__ import annotations

import statistics
import time

from simulators.card.stack import CardStack

READER = "Virtual PCD 00 00"
SELECT_SSC = bytes.fromhex("00A404000F") + "sx1.sh.社会保障".encode("gbk")


def _median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 3)


def apdu_round_trip(n: int = 200, n_slow: int = 200, identities: int = 50) -> dict[str, float]:
    from kiosk.card.protocol import SscCard
    from kiosk.hw.reader_pcsc import PcscReader

    with CardStack(persona="second_gen") as stack:
        with PcscReader(READER, exchange_timeout_s=5.0) as reader:
            assert reader.wait_for_card(5), "emulated card did not appear"
            reader.transmit(SELECT_SSC)  # open the session outside the timing
            fast = _median_ms(lambda: reader.transmit(SELECT_SSC), n)
            card = SscCard(reader.transmit)
            ident_ms = _median_ms(lambda: card.read_identity(), identities)
            apdus = card.read_identity().apdus
            stack.ctl("QUICKACK off")
            slow = _median_ms(lambda: reader.transmit(SELECT_SSC), n_slow)  # ~45 ms each: ~9 s
    return {
        "card.apdu_ms_p50": fast,
        "card.raw_apdu_ms_p50": fast,
        "card.apdu_ms_p50_no_quickack": slow,
        "card.read_identity_ms_p50": ident_ms,
        "card.apdus_per_identity": float(apdus),
    }


if __name__ == "__main__":
    print(apdu_round_trip())
