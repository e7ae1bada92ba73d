"""The fault table's forged-card row: a programmable card with a real citizen's printed numbers and
the forger's keys and PIN, tried at the kiosk (online, and offline against the PSAM) and through
the sync daemon's socket with the kiosk bypassed. The trials are the card-authentication tests of
tests/e2e/test_card_auth.py, run here against their own simulators and counted."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e import test_card_auth as trials
from tests.e2e.conftest import make_kiosk, sims  # noqa: F401 (fixtures)
from tests.e2e.test_card_auth import card_in, socket_client  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def test_forged_card(make_kiosk, sims, card_in, socket_client, fault_table):  # noqa: F811
    runs: dict[str, Callable[[], None]] = {
        "kiosk UI refuses": lambda: trials.test_forged_card_is_refused_at_the_kiosk_before_any_personal_data(
            make_kiosk),
        "bureau refuses its cryptogram": lambda: trials.test_forged_card_without_a_kiosk_psam_is_refused_by_the_bureau(
            sims, card_in, socket_client),
        "PSAM refuses offline": lambda: trials.test_forged_card_is_refused_by_the_kiosk_psam_offline(sims, card_in),
        "socket: no/forged cryptogram refused": lambda: (
            trials.test_card_pin_query_through_the_socket_needs_a_verified_cryptogram(sims, card_in, socket_client)),
        "socket: replayed challenge refused": lambda: trials.test_a_bureau_challenge_is_good_for_one_answer_only(
            sims, card_in, socket_client),
    }
    failed = []
    for name, run in runs.items():
        try:
            run()
        except AssertionError as exc:  # the row names the defence that did not hold
            failed.append(f"{name}: {str(exc).splitlines()[0] if str(exc) else 'assertion'}")
    fault_table.add_expectation(
        "forged card (victim's numbers, own keys)", len(runs), "refused at the kiosk and by the bureau",
        "; ".join(failed) or f"{len(runs)}/{len(runs)} refused ({', '.join(runs)})", not failed)
    assert not failed, failed
