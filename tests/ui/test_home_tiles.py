"""Home tiles on the smallest screen (1280x800), where a tile holds the least: every tile draws
its title whole at or above the floor; a paused tile always draws that it is paused (暂停使用),
whatever else it has no room for; an open tile draws its hint only whole, never cut short."""

from __future__ import annotations

import pytest

from kiosk.hw.health import DeviceHealth
from kiosk.screens.text import TextLog
from tests.ui.harness import make_harness


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_tile_keeps_its_title_and_a_paused_tile_its_reason(tmp_path, lang):
    h = make_harness(tmp_path, (1280, 800), lang)
    try:
        h.ui.sessions.default_language = lang
        h.set_health("camera", DeviceHealth.offline("health.camera.offline"))
        h.ui.text.log = log = TextLog()
        h.frame()
        floor = h.ui.theme.floor_px
        tiles = [b for b in h.ui.screen.buttons if b.name.startswith("tile-")]
        assert len(tiles) >= 15 and any(not b.enabled for b in tiles) and any(b.enabled for b in tiles)
        for tile in tiles:
            runs = [r for r in log.runs if tile.rect.contains(r.ink)]
            words = "".join(r.text for r in runs).replace(" ", "")
            assert all(r.size >= floor for r in runs), tile.name
            assert h.ui.t(tile.label).replace(" ", "") in words, tile.name
            if not tile.enabled:
                assert h.ui.t("hall.paused_word").replace(" ", "") in words, tile.name
            else:
                hint = h.ui.t(tile.sublabel).replace(" ", "")
                rest = words.replace(h.ui.t(tile.label).replace(" ", ""), "", 1)
                assert rest in ("", hint), (tile.name, rest)
    finally:
        h.close()
