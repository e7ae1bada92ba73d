"""Issue 13, finding 2: a PIN typed on the kiosk never reaches the journal, even at debug level
(which a technician can raise live from the maintenance menu)."""

from __future__ import annotations

import logging
import re

WANG_PIN = "258147"  # 王秀英's card A00000001 (persona "activated")


def test_pin_typed_at_debug_level_leaves_no_digit_in_the_log(make_kiosk, caplog):
    """GIVEN the log at debug level WHEN a citizen types the card's PIN on the PIN pad THEN the
    log says the keypad was used and never which key (no key-<digit>, not the PIN)."""
    k = make_kiosk(KIOSK_LOG_LEVEL="debug")
    k.sims.card.ctl("INSERT activated")
    k.tap("tile-change_pin")
    k.screen("pin_entry")
    with caplog.at_level(logging.DEBUG, logger="kiosk"):
        k.type(WANG_PIN)
        k.tap("confirm")
        k.until(lambda: k.ui.screen.title_key == "card.new_pin.title", what="new PIN")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "event=tap" in text  # the taps were logged at debug level at all
    assert re.findall(r"key-\d", text) == []
    assert WANG_PIN not in text
    assert "button=keypad" in text
