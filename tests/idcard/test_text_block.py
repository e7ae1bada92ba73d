"""The 256-byte text block: every field checked, rare characters kept and flagged, 长期, expiry
judged only on a trusted date. Blocks are built here field by field, not with the simulator."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from kiosk.hw.idcard_errors import IdCardUnreadable
from kiosk.hw.idcard_model import IdCardData, parse_text_block

WANG = {"name": "王秀英", "sex": "2", "nation": "01", "birth": "19580312",
        "address": "北京市朝阳区朝阳路100号", "id_number": "110105195803120029",
        "authority": "北京市公安局朝阳分局", "valid_from": "20181105", "valid_until": "长期", "reserved": ""}
WIDTHS = {"name": 15, "sex": 1, "nation": 2, "birth": 8, "address": 35, "id_number": 18, "authority": 15,
          "valid_from": 8, "valid_until": 8, "reserved": 18}


def block(**changes: str) -> bytes:
    fields = {**WANG, **changes}
    out = b"".join(fields[k].ljust(w).encode("utf-16-le") for k, w in WIDTHS.items())
    assert len(out) == 256
    return out


def test_a_good_block_reads_as_the_card_says():
    data = parse_text_block(block(), b"\x01" * 1024)
    assert (data.name, data.sex, data.nation_code, data.id_number) == ("王秀英", "female", "01", "110105195803120029")
    assert data.birth_date == dt.date(1958, 3, 12) and data.valid_from == dt.date(2018, 11, 5)
    assert data.address == "北京市朝阳区朝阳路100号" and data.authority == "北京市公安局朝阳分局"
    assert data.long_term and data.valid_until is None
    assert data.photo_length == 1024 and len(data.photo_digest) == 64
    assert not data.name_has_rare_chars


def test_long_term_never_expires_and_no_trusted_date_says_nothing():
    data = parse_text_block(block())
    assert data.expired(None) is None
    assert data.expired(dt.date(2099, 1, 1)) is False


def test_a_dated_card_expires_the_day_after_its_end_date():
    data = parse_text_block(block(valid_from="20100101", valid_until="20200101"))
    assert data.valid_until == dt.date(2020, 1, 1) and not data.long_term
    assert data.expired(dt.date(2020, 1, 1)) is False
    assert data.expired(dt.date(2020, 1, 2)) is True
    assert data.expired(None) is None


def test_a_private_use_character_in_the_name_is_kept_and_flagged():
    data = parse_text_block(block(name="陈\ue40c"))
    assert data.name == "陈\ue40c" and data.name_has_rare_chars
    assert data.name_with("□") == "陈□"
    assert "\ue40c" not in repr(data) and "110105195803120029" not in repr(data)


def test_the_repr_is_masked():
    text = repr(parse_text_block(block()))
    assert "王*英" in text and "1101**********0029" in text and "王秀英" not in text and "朝阳路" not in text


@pytest.mark.parametrize(("changes", "words"), [
    ({"id_number": "110105195803120028"}, "id.problem.bad_check"),
    ({"id_number": "11010519580312002A"}, "id.problem.bad_character"),
    ({"id_number": "1101051958031200"}, "id.problem.too_short"),
    ({"id_number": "110105195813120029"}, "field id_number"),  # month 13
    ({"birth": "19580313"}, "differs from the ID number's birth date"),
    ({"birth": "1958031X"}, "field birth: not YYYYMMDD"),
    ({"birth": "19580230"}, "field birth: no such date"),
    ({"sex": "1"}, "differs from the ID number's sex digit"),
    ({"sex": "9"}, "not a sex code"),
    ({"nation": "57"}, "not a GB 3304 code"),
    ({"nation": "1"}, "not a GB 3304 code"),
    ({"name": ""}, "field name: empty"),
    ({"name": "王\x07英"}, "control character U+0007"),
    ({"address": ""}, "field address: empty"),
    ({"authority": ""}, "field authority: empty"),
    ({"valid_from": "2018115"}, "field valid_from: not YYYYMMDD"),
    ({"valid_until": "永久"}, "field valid_until: not YYYYMMDD"),
    ({"valid_from": "20200101", "valid_until": "20100101"}, "not after valid_from"),
    ({"valid_from": "19500101"}, "before the birth date"),
])
def test_garbage_in_a_field_is_unreadable_and_names_the_field_not_its_value(changes, words):
    with pytest.raises(IdCardUnreadable, match=re.escape(words)) as caught:
        parse_text_block(block(**changes))
    assert "王秀英" not in str(caught.value) and "110105195803120029" not in str(caught.value)


def test_a_surrogate_code_unit_is_not_ucs2():
    raw = bytearray(block())
    raw[2:4] = (0xD840).to_bytes(2, "little")
    with pytest.raises(IdCardUnreadable, match="surrogate"):
        parse_text_block(bytes(raw))


@pytest.mark.parametrize("size", [0, 255, 257])
def test_a_block_of_the_wrong_size_is_refused(size):
    with pytest.raises(IdCardUnreadable, match="text block of"):
        parse_text_block(bytes(size))


def test_ids_ending_in_x_and_the_97_98_nationality_codes_are_accepted():
    # 11010519491231002X: a valid check character X (computed), female
    data = parse_text_block(block(id_number="11010519491231002X", birth="19491231", nation="98"))
    assert data.id_number.endswith("X") and data.nation_code == "98"
    assert isinstance(data, IdCardData)
