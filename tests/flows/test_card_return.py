"""When the kiosk reminds a citizen of a forgotten card, and when it gives up and calls staff."""

from kiosk.flows.card_return import CardReturn, Due


def test_taken_at_once_goes_home():
    assert CardReturn(20).due(1.0, present=False) is Due.TAKEN


def test_reminds_once_after_the_forgotten_time_then_calls_staff_at_four_times_it():
    policy = CardReturn(20)
    assert policy.due(5, present=True) is Due.WAIT
    assert policy.due(19.9, present=None) is Due.WAIT
    assert policy.due(20, present=True) is Due.REMIND
    assert policy.due(25, present=True) is Due.WAIT  # once, not every frame
    assert policy.reminded
    assert policy.due(79.9, present=None) is Due.WAIT
    assert policy.due(80, present=True) is Due.LEFT_BEHIND


def test_a_card_taken_after_the_reminder_is_taken():
    policy = CardReturn(20)
    policy.due(30, present=True)
    assert policy.due(31, present=False) is Due.TAKEN
