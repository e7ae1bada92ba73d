"""The emulator's card state survives a restart, and its data files agree with personas.toml."""

from __future__ import annotations

from simulators.card.personas import StateStore, load_cards


def test_pin_state_persists_across_restarts(tmp_path):
    cards = load_cards()
    facts = cards["new_card"]
    path = tmp_path / "state.json"
    StateStore(path).put(facts, "802514", 2)
    again = StateStore(path).get(facts)
    assert (again.pin, again.tries_left) == ("802514", 2)
    store = StateStore(path)
    store.reset("new_card")
    assert StateStore(path).get(facts).pin == facts.initial_pin


def test_every_needed_persona_is_there():
    cards = load_cards()
    needed = {"new_card", "activated", "pin_blocked", "expired", "reported_lost", "second_gen", "rare_name",
              "bank_only", "mute", "answers_61xx"}
    assert needed <= set(cards)
    assert cards["pin_blocked"].initial_tries == 0
    assert not cards["bank_only"].ssc_app
    assert cards["mute"].mute and cards["answers_61xx"].answer_61xx
    assert {cards["second_gen"].generation, cards["activated"].generation} == {2, 3}
