"""The touch UI shell driven by injected touch events and an injected clock."""

from __future__ import annotations

import gc

import pygame
import pytest

from kiosk.hw.health import DeviceHealth
from kiosk.screens import flows
from tests.reach import reachable
from tests.ui.harness import make_harness

VALID_ID = "11010519491231002X"


@pytest.fixture
def h(tmp_path):
    harness = make_harness(tmp_path)
    yield harness
    harness.close()


def test_home_shows_a_tile_per_service_all_enabled_when_devices_are_up(h):
    from kiosk.services.catalog import SERVICES

    tiles = [b for b in h.ui.screen.buttons if b.name.startswith("tile-")]
    assert h.ui.screen.name == "home"
    assert len(tiles) == len(SERVICES)
    assert all(t.enabled for t in tiles)
    assert min(t.rect.height for t in tiles) >= 96  # 1080p touch target rule


def test_language_switch_by_one_tap_and_back(h):
    assert h.ui.t("home.title") == "社会保障自助服务"
    h.tap_button("lang")
    assert h.ui.lang == "en"
    assert "Social Security" in h.ui.t("home.title")
    assert h.ui.text.rendered & {"Pension check", "中文"}  # drawn in English, offers Chinese back
    h.tap_button("lang")
    assert h.ui.lang == "zh_CN"


def test_id_keypad_reports_wrong_check_digit_in_plain_words(h):
    h.open_id_entry()
    assert h.ui.screen.name == "id_entry"
    h.type(VALID_ID[:17] + "5")
    assert h.ui.screen.problem is not None and h.ui.screen.problem.value == "id.problem.bad_check"
    assert not h.ui.screen.button("confirm").enabled
    message = h.ui.t("id.problem.bad_check")
    assert any(message.startswith(line) for line in h.ui.text.rendered if len(line) > 4)
    h.tap_button("key-back")
    h.type("X")
    h.frame()
    assert h.ui.screen.problem is None
    assert h.ui.screen.button("confirm").enabled


def test_id_keypad_flags_x_in_the_middle_at_once(h):
    h.open_id_entry()
    h.type("1101X")
    assert h.ui.screen.problem.value == "id.problem.x_not_last"


def test_care_mode_makes_text_and_buttons_larger(h):
    body, button_h = h.ui.theme.font_px("body"), h.ui.theme.button_h
    h.tap_button("care")
    assert h.ui.sessions.care_mode
    assert h.ui.theme.font_px("body") >= body * 1.25
    assert h.ui.theme.button_h > button_h


def test_call_staff_lights_the_beacon_and_beeps_once(h):
    gpio = h.devices.gpio
    beacon = gpio.factory.pin(h.cfg["gpio.help_beacon"])
    buzzer = gpio.factory.pin(h.cfg["gpio.buzzer"])
    assert beacon.state == 0
    h.tap_button("staff")
    assert beacon.state == 1 and buzzer.state == 1
    h.clock.advance(h.cfg["gpio.buzzer_s"] + 0.01)
    h.frame()
    assert buzzer.state == 0 and beacon.state == 1  # one beep, beacon stays lit
    h.clock.advance(h.cfg["gpio.beacon_s"])
    h.frame()
    assert beacon.state == 0


_reachable = reachable

def test_inactivity_prompt_then_home_with_the_session_wiped(h):
    h.open_id_entry()
    h.type(VALID_ID)
    screen = h.ui.screen
    keypad_buffer = screen.keypad.buffer
    # A worker job of this session, finished but not yet read by the loop.
    token = h.ui.sessions.session.token
    job = h.ui.workers.submit("lookup", lambda: {"id": VALID_ID}, session=token)
    job.future.result(timeout=5)
    assert _leaks(h.ui)  # the scan does find the number while the session lives
    h.clock.advance(h.cfg["session.inactivity_s"] + 1)
    h.frame()
    assert h.ui.screen.name == "id_entry"
    assert next(b.name for b in h.ui._tap_targets()) == "continue"  # the prompt, with its countdown
    assert any("秒后将返回首页" in t for t in h.ui.text.rendered)
    h.clock.advance(h.cfg["session.countdown_s"])
    h.frame()
    assert h.ui.screen.name == "home"
    assert h.ui.sessions.session is None
    assert keypad_buffer == bytearray()  # the old screen's buffer was wiped in place
    assert [j for j in h.ui.workers.pending() if j.session == token] == []
    assert not any(VALID_ID[6:14] in t for t in h.ui.text.cached_texts())
    gc.collect()
    assert _leaks(h.ui) == []


def _leaks(ui):
    return [o for o in _reachable(ui) if isinstance(o, (str, bytes, bytearray))
            and (VALID_ID.encode() if isinstance(o, (bytes, bytearray)) else VALID_ID) in o]


def test_touch_before_the_countdown_ends_keeps_the_session(h):
    h.open_id_entry()
    h.type("110105")
    h.clock.advance(h.cfg["session.inactivity_s"] + 1)
    h.frame()
    h.tap_button("continue")
    h.clock.advance(h.cfg["session.countdown_s"])
    h.frame()
    assert h.ui.screen.name == "id_entry" and h.ui.screen.keypad.value == "110105"


def test_device_going_offline_disables_its_tiles_with_the_reason(h, caplog):
    caplog.set_level("INFO", logger="kiosk")
    h.set_health("camera", DeviceHealth.offline("health.camera.offline", "unplugged"))
    buttons = {b.name: b for b in h.ui.screen.buttons}
    assert not buttons["tile-pension_auth"].enabled
    # the citizen reads that it is paused and where to go; the device's reason is in the log
    assert buttons["tile-pension_auth"].sublabel == "hall.paused_short"
    assert "event=service_paused service=pension_auth device=camera reason=health.camera.offline" in caplog.text
    assert buttons["tile-activate_card"].enabled  # needs only the reader
    assert buttons["tile-payment_records"].enabled  # the card can identify instead of the face
    h.ui.tap(buttons["tile-pension_auth"].rect.center)
    h.frame()
    assert h.ui.screen.name == "home"  # a disabled tile does nothing
    h.set_health("camera", DeviceHealth.ok())
    assert {b.name: b for b in h.ui.screen.buttons}["tile-pension_auth"].enabled


def test_nothing_to_serve_shows_out_of_service_and_recovers(h):
    for name in ("reader", "camera", "bureau"):
        h.set_health(name, DeviceHealth.offline(f"health.{name}.offline"))
    assert h.ui.screen.name == "out_of_service"
    h.tap_button("staff")  # help still works
    assert h.devices.gpio.help_beacon.value == 1
    h.set_health("camera", DeviceHealth.ok())
    assert h.ui.screen.name == "home"


def test_error_inside_a_screen_shows_the_apology_then_home(h, caplog):
    h.open_id_entry()
    h.type("1101")

    def broken(now):
        raise RuntimeError("boom")

    h.ui.screen.update = broken
    with caplog.at_level("ERROR", logger="kiosk"):
        h.frame()
    assert h.ui.screen.name == "failsafe"
    assert h.ui.sessions.session is None
    assert any("boom" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    h.clock.advance(h.cfg["ui.failsafe_s"] + 0.1)
    h.frame()
    assert h.ui.screen.name == "home"


def test_error_while_drawing_is_caught_too(h):
    h.open_id_entry()
    h.ui.screen.draw = lambda surf: 1 / 0
    h.frame()
    assert h.ui.screen.name == "failsafe"


def test_mouse_and_touch_both_tap_but_a_touch_is_not_counted_twice(h):
    tile = {b.name: b for b in h.ui.screen.buttons}["tile-pension_auth"]
    presses = []
    tile.on_press = lambda: presses.append(1)
    for etype in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP):
        h.ui.handle(pygame.event.Event(etype, pos=tile.rect.center, button=1, touch=False))
    assert presses == [1]
    w, hgt = h.ui.surface.get_size()
    x, y = tile.rect.center
    for ftype, mtype in ((pygame.FINGERDOWN, pygame.MOUSEBUTTONDOWN), (pygame.FINGERUP, pygame.MOUSEBUTTONUP)):
        h.ui.handle(pygame.event.Event(ftype, x=x / w, y=y / hgt, touch_id=1, finger_id=0))
        h.ui.handle(pygame.event.Event(mtype, pos=(x, y), button=1, touch=True))  # SDL's copy
    assert presses == [1, 1]


def test_press_and_slide_off_does_not_tap(h):
    tile = {b.name: b for b in h.ui.screen.buttons}["tile-pension_auth"]
    w, hgt = h.ui.surface.get_size()
    h.ui.handle(pygame.event.Event(pygame.FINGERDOWN, x=tile.rect.centerx / w, y=tile.rect.centery / hgt))
    h.ui.handle(pygame.event.Event(pygame.FINGERUP, x=0.99, y=0.5))
    h.frame()
    assert h.ui.screen.name == "home"


def test_kiosk_mode_ignores_window_close_and_keyboard_escapes(h):
    for event in (pygame.event.Event(pygame.QUIT),
                  pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, mod=0, unicode="\x1b"),
                  pygame.event.Event(pygame.KEYDOWN, key=pygame.K_F4, mod=pygame.KMOD_ALT, unicode="")):
        h.ui.handle(event)
    h.frame()
    assert h.ui.running


def test_pin_pad_masks_digits_and_hands_over_a_wipeable_buffer(h):
    got = []
    h.ui.show(flows.PinEntryScreen(h.ui, got.append, attempts_left=2))
    h.type("123456")
    assert not any("123456" in t for t in h.ui.text.rendered)
    h.tap_button("confirm")
    assert got == [bytearray(b"123456")] and h.ui.screen.keypad.buffer == bytearray()
