"""Words a citizen reads (issue 15 #3): dates as 2026年12月31日 / 31 December 2026 from one helper,
the relation said per person (父亲/母亲, 儿子/女儿 by the ID number's sex digit), and the hotline
a bureau configures (checked by check-config like any key)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from kiosk import config
from kiosk.domain.citizen_id import sex
from kiosk.i18n import Translator
from kiosk.i18n.dates import YearMonth, from_iso, long_date, weekday
from kiosk.services.certification import relation_word


def test_dates_in_the_citizens_words():
    day = dt.date(2026, 12, 31)
    assert long_date(day, "zh_CN") == "2026年12月31日" and long_date(day, "en") == "31 December 2026"
    assert long_date(dt.date(2026, 3, 4), "zh_CN") == "2026年3月4日"  # no zero padding
    assert long_date("2024-11", "zh_CN") == "2024年11月" and long_date("2024-11", "en") == "November 2024"
    assert long_date("2025-06-30T08:00:00", "en") == "30 June 2025"
    assert long_date("unknown", "zh_CN") == "unknown" and long_date("2024-13-01", "en") == "2024-13-01"
    assert from_iso("2024-11") == YearMonth(2024, 11) and from_iso("2025-02-30") == "2025-02-30"
    moment = dt.datetime(2026, 12, 2, 18, 0)  # an activation code's deadline keeps its hour
    assert long_date(moment, "zh_CN") == "2026年12月2日 18:00" and long_date(moment, "en") == "2 December 2026 18:00"
    assert (weekday(day, "zh_CN"), weekday(day, "en")) == ("星期四", "Thursday")


def test_a_date_given_to_a_message_is_worded_in_its_language():
    until = dt.date(2026, 12, 31)
    assert "2026年12月31日" in Translator("zh_CN")("lost.done.body", until=until)
    assert "31 December 2026" in Translator("en")("lost.done.body", until=until)
    assert "2024年11月" in Translator("zh_CN")("balance.owed", amount="1", since=from_iso("2024-11"))
    assert "2026-12-31" not in Translator("zh_CN")("lost.done.body", until=until)


def test_the_flows_hand_dates_to_the_screens_as_dates():
    """No flow turns a date shown to a citizen into ISO text (2026-12-31) itself."""
    import pathlib

    flows = pathlib.Path(__file__).parents[1] / "kiosk" / "flows"
    offenders = [f"{p.name}:{n}" for p in sorted(flows.glob("*.py"))
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if ("isoformat()" in line and "fields" in line) or "strftime(" in line]
    assert not offenders, offenders


@pytest.mark.parametrize(("id_number", "relation", "word"), [
    ("420106195612010061", "parent", "mother"),  # 17th digit 6: even, a woman
    ("110105194912310015", "parent", "father"),  # 1: odd, a man
    ("110105198001010036", "child", "son"),
    ("110105198001010028", "child", "daughter"),
    ("110105198001010028", "spouse", "spouse"),  # 配偶 stays 配偶
    ("1101051980", "parent", "parent"),  # no sex digit to read: the contract's word stays
])
def test_the_relation_is_said_for_the_person(id_number, relation, word):
    assert relation_word(relation, id_number) == word
    for lang in ("zh_CN", "en"):
        assert Translator(lang).has(f"relation.{word}") and Translator(lang).has(f"family.member.{word}")
    assert Translator("zh_CN")("relation.mother") == "母亲" and Translator("zh_CN")("relation.son") == "儿子"


def test_sex_from_the_17th_digit():
    assert (sex("420106195612010061"), sex("110105194912310015"), sex("11010519491231"), sex("1101051949123100X5")) \
        == ("female", "male", None, None)


def test_the_hotline_is_a_setting_check_config_accepts(tmp_path):
    assert config.load(None, environ={}, overrides={})["bureau.hotline"] == "12333"
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text('[bureau]\nhotline = "010-12333"\n[kiosk]\nhall_name = "朝阳区社会保障服务大厅"\n')
    bad.write_text('[bureau]\nhotline = "call us"\n')
    run = [sys.executable, "-m", "kiosk", "check-config"]
    ok = subprocess.run([*run, str(good)], capture_output=True, text=True, check=False)
    refused = subprocess.run([*run, str(bad)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert refused.returncode != 0 and "bureau.hotline" in refused.stderr
