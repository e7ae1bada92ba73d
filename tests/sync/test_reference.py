"""Reference numbers: format, ISO 7064 MOD 37-2 check character, API pattern."""

from __future__ import annotations

import re
import sqlite3
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from kiosk.sync import reference
from tests import openapi_util


def test_format_and_api_pattern():
    ref = reference.format_reference("KIOSK-0001", date(2025, 3, 14), 42)
    assert re.fullmatch(r"KIOSK0001-20250314-000042-[0-9A-Z]", ref)
    assert reference.is_valid(ref)
    openapi_util.validate("Reference", ref)


def test_check_character_known_value():
    # By hand: p = (0 + v) * 2 mod 37, check = (38 - p) mod 37.
    assert reference.check_character("A") == "I"  # p = 20, check value 18
    assert reference.check_character("0") == "1"  # p = 0, check value 1
    assert reference.check_character("1") == "*"  # p = 2, check value 36: never minted


def test_numbers_whose_check_would_be_star_are_skipped():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(reference.SCHEMA_SQL)
    refs = [reference.mint(conn, "K1", date(2025, 1, 1)) for _ in range(200)]
    assert all(r.text[-1] != "*" and reference.is_valid(r.text) for r in refs)
    seqs = [r.sequence for r in refs]
    assert seqs == sorted(set(seqs)) and seqs[-1] > 200  # some numbers were skipped


@given(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12),
       st.integers(1, reference.SEQ_MAX))
def test_every_single_substitution_and_neighbour_swap_is_caught(kiosk, seq):
    ref = reference.format_reference(kiosk, date(2025, 1, 2), seq)
    if ref is None:
        return
    for i, ch in enumerate(ref):
        if ch == "-":
            continue
        for other in reference.ALPHABET:
            if other != ch:
                assert not reference.is_valid(ref[:i] + other + ref[i + 1:])
        j = i + 1
        if j < len(ref) and ref[j] != "-" and ref[j] != ch:
            assert not reference.is_valid(ref[:i] + ref[j] + ch + ref[j + 1:])


def test_mint_counts_per_day_in_the_callers_transaction():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(reference.SCHEMA_SQL)
    a = reference.mint(conn, "K1", date(2025, 1, 1))
    b = reference.mint(conn, "K1", date(2025, 1, 1))
    c = reference.mint(conn, "K1", date(2025, 1, 2))
    assert a.sequence < b.sequence and c.sequence <= 2
    assert a.idempotency_key != b.idempotency_key
    openapi_util.validate("IdempotencyKey", a.idempotency_key)
    conn.execute("BEGIN")
    reference.mint(conn, "K1", date(2025, 1, 1))
    conn.execute("ROLLBACK")
    assert reference.mint(conn, "K1", date(2025, 1, 1)).sequence in (b.sequence + 1, b.sequence + 2)


def test_formatted_references_carry_the_check_character_of_their_text():
    """The day's prefix is folded once and the six digits by table: the same check character
    as ISO/IEC 7064 MOD 37-2 over the whole text, '*' skipped."""
    from datetime import date as _date
    for day in (_date(2025, 1, 1), _date(2026, 12, 31)):
        for kiosk in ("KIOSK-0001", "k-9z"):
            code = reference.kiosk_code(kiosk)
            for n in [*range(1, 2000), *range(998_000, reference.SEQ_MAX + 1)]:
                body = f"{code}{day:%Y%m%d}{n:06d}"
                check = reference.check_character(body)
                expected = None if check == "*" else f"{code}-{day:%Y%m%d}-{n:06d}-{check}"
                assert reference.format_reference(kiosk, day, n) == expected
