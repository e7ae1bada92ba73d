"""The home a citizen meets (issue 15 #3): where they are (the bureau and the hall), what day and
time it is, whom to call (the hotline); services in three groups with pictograms; a paused service
said plainly, never with the device's words; an online indicator that agrees with what the
citizen is told; and technician pages that speak to a technician. Screenshots in
out/test-artifacts/hall."""

from __future__ import annotations

import datetime as dt
import re

import pygame
import pytest

from kiosk.flows import flow_for
from kiosk.flows import steps as st
from kiosk.hw.health import DeviceHealth
from kiosk.screens.common import Action, MessageScreen
from kiosk.screens.flow_host import start_flow
from kiosk.services.catalog import GROUPS, SERVICES, home_groups
from kiosk.sync.client import BureauUnreachable
from tests.conftest import ARTIFACTS
from tests.ui.harness import make_harness

OUT = ARTIFACTS / "hall"
HALL = {"kiosk.bureau_name": "朝阳区社会保险事业管理中心", "kiosk.hall_name": "朝阳区社会保障服务大厅",
        "kiosk.bureau_name_en": "Chaoyang Social Insurance Centre", "kiosk.hall_name_en": "Chaoyang Service Hall"}
NEW_YEARS_EVE = dt.datetime(2026, 12, 31, 9, 5)  # a Thursday
DEVICE_WORDS = ("摄像头", "读卡", "读卡器", "未连接", "pcscd", "社保中心连接", "camera", "reader", "not connected")


def _harness(tmp_path, lang):
    harness = make_harness(tmp_path, lang=lang, **HALL)
    harness.ui.sessions.default_language = lang
    harness.ui.desk._now = lambda: NEW_YEARS_EVE
    harness.frame()
    return harness


@pytest.fixture(params=["zh_CN", "en"])
def h(request, tmp_path):
    harness = _harness(tmp_path, request.param)
    yield harness
    harness.close()


@pytest.fixture
def hz(tmp_path):
    harness = _harness(tmp_path, "zh_CN")
    yield harness
    harness.close()


def said(text: str, key_text: str) -> bool:
    """Every line of a message that breaks where it says so ("\\n") was drawn."""
    return all(part in text for part in key_text.split("\n"))


def drawn(h) -> str:
    h.ui.text.rendered.clear()
    h.frame()
    return "\n".join(h.ui.text.rendered)


def save(h, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    pygame.image.save(h.ui.surface, str(OUT / f"{h.ui.lang}-{name}.png"))


def test_the_home_says_where_when_and_whom_to_call(h):
    text = drawn(h)
    save(h, "home")
    if h.ui.lang == "zh_CN":
        for words in ("朝阳区社会保险事业管理中心", "朝阳区社会保障服务大厅", "2026年12月31日", "星期四", "09:05",
                      "服务热线 12333"):
            assert words in text, words
    else:
        for words in ("Chaoyang Social Insurance Centre", "Chaoyang Service Hall", "Thursday, 31 December 2026",
                      "Hotline 12333"):
            assert words in text, words


def test_a_bureau_with_its_own_hotline_shows_it(tmp_path):
    h = make_harness(tmp_path, **{"bureau.hotline": "010-12333"})
    try:
        h.set_health("camera", DeviceHealth.offline("health.camera.offline"))
        h.tap_button("care")
        assert "服务热线 010-12333" in drawn(h) and "服务热线 12333" not in drawn(h)
        h.tap_button("tile-card")  # activation needs only the reader; the rest of the group is paused
        text = drawn(h)
        save(h, "care-group-paused")
        tile = h.ui.screen.button("tile-reset_pin")
        assert not tile.enabled and h.ui.t(tile.sublabel, **tile.fields) == "本功能暂停使用，请到窗口办理，或拨打 010-12333。"
        assert [line for line in text.split("\n") if line.endswith("010-12333。")]
    finally:
        h.close()


def test_services_are_in_three_groups_each_once_with_new_ones_placed():
    placed = [s.id for _g, specs in home_groups() for s in specs]
    assert sorted(placed) == sorted(s.id for s in SERVICES)  # every service on the home, once
    groups = {g.id: [s.id for s in specs] for g, specs in home_groups()}
    assert groups["certify"][:3] == ["pension_auth", "annual_review", "family_auth"]
    # the services other helpers add have their place whenever they land
    named = {sid: g.id for g in GROUPS for sid in g.services}
    assert (named["apply_ecard"], named["family_account"], named["participation_certificate"]) == \
        ("card", "certify", "query")


def test_the_home_draws_each_group_heading_over_its_tiles(hz):
    text = drawn(hz)
    heads = {g.id: rect for rect, g in hz.ui.screen._groups}
    for group, specs in home_groups():
        assert hz.ui.t(group.title_key) in text
        for spec in specs:
            tile = hz.ui.screen.button(f"tile-{spec.id}").rect
            assert tile.top > heads[group.id].bottom and heads[group.id].left <= tile.centerx <= heads[group.id].right


def test_pension_services_are_told_apart_in_plain_words(hz):
    t = hz.ui.t
    titles = {sid: t(f"service.{sid}.title") for sid in ("pension_auth", "annual_review", "family_auth")}
    hints = {sid: t(f"service.{sid}.hint") for sid in titles}
    assert len(set(titles.values())) == 3 and len(set(hints.values())) == 3
    if hz.ui.lang == "zh_CN":
        assert titles["annual_review"] == "社保卡年审"  # the card's review, not the pension's
        assert "老人" in hints["family_auth"] and "本人" in hints["pension_auth"]


def test_a_paused_service_says_so_plainly_never_with_the_device(h):
    h.set_health("camera", DeviceHealth.offline("health.camera.offline"))
    h.set_health("reader", DeviceHealth.offline("health.reader.pcscd_down"))
    text = drawn(h)
    save(h, "home-paused")
    tile = h.ui.screen.button("tile-pension_auth")
    assert not tile.enabled and tile.sublabel == "hall.paused_short"
    assert said(text, h.ui.t("hall.paused_short"))
    assert not [w for w in DEVICE_WORDS if w in text], text
    h.tap_button("care")
    text = drawn(h)
    save(h, "care-paused")
    care_tile = h.ui.screen.button("tile-pension_auth")
    assert care_tile.sublabel == "hall.paused" and said(text, h.ui.t("hall.paused"))
    assert not [w for w in DEVICE_WORDS if w in text], text


def test_out_of_service_gives_the_hotline_not_the_devices(hz):
    for name in ("reader", "camera", "bureau"):
        hz.set_health(name, DeviceHealth.offline(f"health.{name}.offline"))
    assert hz.ui.screen.name == "out_of_service"
    text = drawn(hz)
    assert hz.ui.t("hall.hotline", hotline="12333") in text
    assert not [w for w in DEVICE_WORDS if w in text], text


def test_the_online_indicator_agrees_at_once_when_a_query_finds_the_bureau_unreachable(hz):
    """GIVEN the daemon last said online WHEN a live query cannot reach the bureau THEN the top bar
    says offline on the very next frame (not at the next poll), and a query that gets through
    gives the daemon's word back."""
    assert hz.ui.health["bureau"].usable and hz.ui.t("net.online") in drawn(hz)
    with pytest.raises(BureauUnreachable):
        hz.ui.services.sync.query("card_status", {}, 0.2)  # no daemon at this socket
    text = drawn(hz)
    assert hz.ui.t("net.offline") in text and hz.ui.t("net.online") not in text
    for listener in hz.ui.services.sync.on_query:
        listener(True)
    assert hz.ui.t("net.online") in drawn(hz)


def test_a_confirm_step_names_its_service_and_home_is_offered_once(hz):
    hz.ui.sessions.begin(hz.clock.monotonic())
    host = start_flow(hz.ui, flow_for("report_lost"))
    host.runner.current = st.AskConfirm(then="confirm", title="lost.confirm.title", body="lost.confirm.undated",
                                        yes="lost.confirm.yes", danger=True, name="confirm_loss", stage="confirm",
                                        fields={"days": 30})
    host._render(host.runner)
    hz.frame()
    assert hz.ui.t(hz.ui.screen.title_key) == hz.ui.t("service.report_lost.title") != hz.ui.t("msg.bar.info")
    screen = MessageScreen(hz.ui, "query.error.offline.title", "query.error.offline.body",
                           [Action("nav.try_again", lambda: None, name="retry"), Action("nav.home", lambda: None)])
    hz.ui.show(screen)
    hz.frame()
    homes = [b for b in screen.buttons + hz.ui.bar_buttons if b.label == "nav.home"]
    assert len(homes) == 1  # in the body, not again in the footer


def test_technician_pages_speak_to_a_technician(tmp_path):
    import logging

    from kiosk import provisioning
    from kiosk.services.diagnostics import PAGES
    from kiosk.services.maintenance import hash_pin
    from tests.ui.test_maintenance import PIN, corner_taps, enter_pin

    provisioning.write(tmp_path / "data", "maintenance.pin_hash", hash_pin(PIN))
    h = make_harness(tmp_path)
    try:
        logging.getLogger("kiosk.test").warning("event=probe error=%r", ValueError("reader went away"))
        try:  # a crash logged with its traceback: the page names it in words, not by its class
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            logging.getLogger("kiosk.test").exception("event=probe_crash")
        h.set_health("printer", DeviceHealth.offline("health.printer.paper_out", "DLE EOT 4 = 0x7E"))
        corner_taps(h, 5)
        enter_pin(h)
        assert {b.name for b in h.ui.bar_buttons}.isdisjoint({"care", "lang", "staff", "home", "another"})
        for page in PAGES:
            h.tap_button(f"nav-{page}")
            screen = h.ui.screen
            values = [r.value for r in screen.page.rows] + list(screen.page.lines)
            shown = " ".join(values)
            assert not re.search(r"object at 0x|\w+(Error|Exception)\b", shown), (page, shown)
            ok = [r for r in screen.page.rows if r.label == "diag.health" and r.state == "ok"]
            assert not [r for r in ok if "offline" in r.value or "health." in r.value], page  # no contradiction
            if page == "queue":  # the queue cannot be opened here (no bureau key): why, and no dashes beside it
                assert [r.label for r in screen.page.rows] == ["diag.error"]
                assert "bureau public key" in screen.page.rows[0].value
            if page == "network":  # nothing the kiosk never learns (a heartbeat time it is not told)
                assert "unknown" not in [r.value for r in screen.page.rows if r.label.startswith("diag.queue")]
            if page == "logs":
                assert screen.page.lines and all(re.match(r"\d\d-\d\d \d\d:\d\d:\d\d  ", line)
                                                 for line in screen.page.lines)
                assert any("reader went away" in line for line in screen.page.lines)
    finally:
        h.close()
