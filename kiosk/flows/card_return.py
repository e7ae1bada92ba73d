"""The card comes back at the end: how long the kiosk waits for it to be taken, when it reminds
(buzzer and voice), and when it gives up and calls staff (the next session must not read it)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Due(str, enum.Enum):
    WAIT = "wait"
    TAKEN = "taken"  # the card left the reader: home
    REMIND = "remind"  # once, after card.forgotten_s
    LEFT_BEHIND = "left_behind"  # after four times that: staff take it out


@dataclass
class CardReturn:
    forgotten_s: float
    reminded: bool = False

    def due(self, elapsed_s: float, present: bool | None) -> Due:
        """What to do now, `elapsed_s` after the result; present None: not known yet."""
        if present is False:
            return Due.TAKEN
        if elapsed_s >= 4 * self.forgotten_s:
            return Due.LEFT_BEHIND
        if not self.reminded and elapsed_s >= self.forgotten_s:
            self.reminded = True
            return Due.REMIND
        return Due.WAIT
