"""GB 11643 ID numbers: check character, partial-entry problems, masking."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.domain import citizen_id as cid
from kiosk.domain.masking import mask_id, mask_name, scrub


@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014"])
def test_known_valid_numbers(number):
    assert cid.validate(number) is None
    assert cid.is_valid(number.lower())  # a lower-case x is the same character


@pytest.mark.parametrize("number, problem", [
    ("110105194912310021", cid.IdProblem.BAD_CHECK),
    ("44052418800101001X", cid.IdProblem.BAD_CHECK),
    ("1101051949123", cid.IdProblem.TOO_SHORT),
    ("11010519491231002X1", cid.IdProblem.TOO_LONG),
    ("1101X5194912310021", cid.IdProblem.X_NOT_LAST),
    ("11010519491331002X", cid.IdProblem.BAD_DATE),  # month 13
    ("110105194902300026", cid.IdProblem.BAD_DATE),  # 30 February
    ("11010519491231-02X", cid.IdProblem.BAD_CHARACTER),
    ("１１０１０５19491231002X", cid.IdProblem.BAD_CHARACTER),  # full-width digits are not ASCII
])
def test_known_invalid_numbers(number, problem):
    assert cid.validate(number) is problem


def test_partial_entry_reports_only_what_is_already_wrong():
    assert cid.problem("110105") is None
    assert cid.problem("11010519491") is None
    assert cid.problem("11010519491399") is cid.IdProblem.BAD_DATE
    assert cid.problem("11X") is cid.IdProblem.X_NOT_LAST


def test_future_birth_dates_are_refused_when_today_is_known():
    assert cid.validate("110105203001010018"[:17] + cid.check_char("11010520300101001"),
                        today=dt.date(2026, 11, 21)) is cid.IdProblem.BAD_DATE


digits17 = st.text(alphabet="0123456789", min_size=17, max_size=17)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)),
       st.integers(0, 999999), st.integers(0, 999))
def test_property_appending_the_check_char_makes_a_valid_number(born, region, seq):
    first17 = f"{region:06d}{born:%Y%m%d}{seq:03d}"
    number = first17 + cid.check_char(first17)
    assert cid.is_valid(number)
    assert cid.CitizenId(number).birth_date == born
    assert cid.CitizenId(number).is_male == (seq % 2 == 1)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)),
       st.integers(0, 999999), st.integers(0, 999), st.integers(0, 16), st.integers(1, 9))
def test_property_any_single_digit_change_is_caught(born, region, seq, pos, delta):
    first17 = f"{region:06d}{born:%Y%m%d}{seq:03d}"
    good = first17 + cid.check_char(first17)
    changed = good[:pos] + str((int(good[pos]) + delta) % 10) + good[pos + 1:]
    assert cid.validate(changed) is not None  # MOD 11-2 detects every single-digit error


def test_citizen_id_value_never_shows_the_full_number():
    value = cid.CitizenId("11010519491231002X")
    assert "11010519491231002X" not in repr(value) and "11010519491231002X" not in f"{value}"
    with pytest.raises(ValueError):
        cid.CitizenId("110105194912310021")


def test_masking():
    assert mask_id("11010519491231002X") == "1101**********002X"
    assert mask_name("张明") == "张*"
    assert mask_name("张小明") == "张*明"
    assert mask_name("欧阳小明") == "欧**明"
    assert scrub("id=11010519491231002X card=6222021234567890123") == \
        "id=1101**********002X card=***************0123"
