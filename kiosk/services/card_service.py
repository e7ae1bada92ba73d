"""The citizen's card at the kiosk: wait for it, read who it belongs to, check and change the
PIN, wait for it to be taken. Blocking calls: the UI runs them on worker threads."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable

from kiosk.card.model import CardIdentity
from kiosk.card.profile import RegionProfile, get_profile
from kiosk.card.protocol import SscCard
from kiosk.hw.errors import NoCard

log = logging.getLogger(__name__)


class CardService:
    def __init__(self, reader: Any, profile: RegionProfile | str = "national",
                 clock_trusted: Callable[[], bool] = lambda: False) -> None:
        self.reader = reader
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.clock_trusted = clock_trusted
        self._card: SscCard | None = None

    def wait_for_card(self, timeout_s: float) -> bool:
        return bool(self.reader.wait_for_card(timeout_s))

    def read(self) -> CardIdentity:
        """Connect and read EF05/EF06. Expiry is judged only by a clock we can trust."""
        if not self.reader.card_present():
            raise NoCard("no card in the reader")
        self.reader.connect()
        self._card = SscCard(self.reader.transmit, self.profile)
        today = dt.date.today() if self.clock_trusted() else None
        identity = self._card.read_identity(today=today)
        log.info("event=card_read holder=%r info=%r apdus=%d", identity.holder, identity.info, identity.apdus)
        return identity

    def insert_and_read(self, timeout_s: float) -> CardIdentity:
        if not self.wait_for_card(timeout_s):
            raise NoCard("no card inserted in time")
        return self.read()

    def _require(self) -> SscCard:
        if self._card is None:
            raise NoCard("card not read yet")
        return self._card

    def verify_pin(self, pin: str) -> None:
        self._require().verify_pin(pin)

    def change_pin(self, old: str, new: str) -> None:
        self._require().change_pin(old, new)

    def reload_pin(self, new: str, psam_reader: Any) -> None:
        """Reset a forgotten PIN, authorised by the security module (PSAM) in its own slot."""
        from kiosk.card.security import PsamSecurityModule

        card = self._require()
        info = card.read_card_info()
        psam_reader.connect()
        try:
            card.reload_pin(new, PsamSecurityModule(psam_reader.transmit), self.reader.atr or b"", info)
        finally:
            psam_reader.end_session()

    def tries_left(self) -> int | None:
        try:
            return self._require().pin_tries_left()
        except Exception:  # an unanswerable query is not an error the citizen needs to see
            return None

    def card_present(self) -> bool:
        try:
            return bool(self.reader.card_present())
        except Exception:
            return False

    def wait_for_removal(self, timeout_s: float) -> bool:
        return bool(self.reader.wait_for_removal(timeout_s))

    def end(self) -> None:
        """Forget the card session (the card stays powered until it is taken)."""
        self._card = None
        try:
            self.reader.end_session()
        except Exception as exc:
            log.warning("event=card_end_failed error=%r", exc)
