"""The citizen's card at the kiosk: wait for it, read who it belongs to, prove it genuine, check
and change the PIN, wait for it to be taken. Blocking calls: the UI runs them on worker threads."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.card.errors import CardNotGenuine, SecurityModuleError
from kiosk.card.model import CardIdentity, CardInfo
from kiosk.card.profile import RegionProfile, get_profile
from kiosk.card.protocol import SscCard
from kiosk.hw.errors import NoCard, ReaderError, ReaderUnavailable
from kiosk.hw.ports import CardReader
from kiosk.hw.registry import Unavailable
from kiosk.services.queries import Assurance, Query, QueryFailed, ask

log = logging.getLogger(__name__)

_CHALLENGE_ID = re.compile(r"^CC-[0-9A-F]{16}$")
_CHALLENGE = re.compile(r"^[0-9A-F]{16}$")
_CARD_AUTH_ID = re.compile(r"^CA-[0-9A-F]{16}$")


@dataclass(frozen=True)
class CardProof:
    """The card's proof that it is genuine, for the assurance of this citizen session: the
    bureau's card_auth_id (online), or the kiosk's challenge and the card's answer (offline,
    verified by the bureau when the submission arrives)."""

    card_number: str
    card_auth_id: str = ""
    challenge: bytes = b""
    cryptogram: bytes = b""
    psam_checked: bool = False

    @property
    def online(self) -> bool:
        return bool(self.card_auth_id)

    def assurance(self) -> Assurance:
        if self.card_auth_id:
            return Assurance("card_pin", self.card_number, card_auth_id=self.card_auth_id)
        return Assurance("card_pin", self.card_number, card_challenge=self.challenge.hex().upper(),
                         card_cryptogram=self.cryptogram.hex().upper())

    def __repr__(self) -> str:
        return f"<CardProof online={self.online} psam_checked={self.psam_checked}>"


class CardService:
    """reader: the device container's reader as it is, Unavailable included: asked for a card,
    a stand-in raises ReaderUnavailable (a reader error the UI explains), so callers need not check."""

    def __init__(self, reader: CardReader | Unavailable, profile: RegionProfile | str = "national",
                 clock_trusted: Callable[[], bool] = lambda: False) -> None:
        self.reader = reader
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.clock_trusted = clock_trusted
        self._card: SscCard | None = None
        self._identity: CardIdentity | None = None

    def _reader(self) -> CardReader:
        if isinstance(self.reader, Unavailable):
            raise ReaderUnavailable(self.reader.reason, self.reader.detail)
        return self.reader

    def wait_for_card(self, timeout_s: float) -> bool:
        return self._reader().wait_for_card(timeout_s)

    def read(self) -> CardIdentity:
        """Connect and read EF05/EF06. Expiry is judged only by a clock we can trust."""
        reader = self._reader()
        if not reader.card_present():
            raise NoCard("no card in the reader")
        reader.connect()
        self._card = SscCard(reader.transmit, self.profile)
        today = dt.date.today() if self.clock_trusted() else None
        identity = self._card.read_identity(today=today)
        self._identity = identity
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

    def authenticate(self, query: Query, psam_reader: CardReader | None, timeout_s: float) -> CardProof:
        """The card proves it holds its issuer key: INTERNAL AUTHENTICATE over a fresh challenge,
        checked by the PSAM here (when the kiosk has one) and by the bureau. Online the bureau
        draws the challenge and answers a card_auth_id; offline the kiosk draws it and the proof
        travels in the submission. Raises CardNotGenuine when the PSAM or the bureau refuses."""
        card = self._require()
        if self._identity is None:
            raise NoCard("card not read yet")
        info = self._identity.info
        issued = self._bureau_challenge(query, info.card_number, timeout_s)
        challenge = bytes.fromhex(issued["challenge"]) if issued else os.urandom(8)
        cryptogram = card.internal_authenticate(challenge)
        psam_checked = self._psam_check(psam_reader, info, challenge, cryptogram)
        if issued is not None:
            try:
                a = ask(query, "card_auth_verify", {"challenge_id": issued["challenge_id"],
                                                     "card_number": info.card_number,
                                                     "cryptogram": cryptogram.hex().upper()}, timeout_s)
            except QueryFailed as exc:
                if exc.detail == "card_auth_failed":
                    log.warning("event=card_auth outcome=refused by=bureau psam_checked=%d", psam_checked)
                    raise CardNotGenuine("the bureau did not verify the card's cryptogram") from None
                if exc.reason != "query.error.offline":
                    raise
                # The bureau may have seen its challenge before the answer was lost: a fresh one of
                # our own, so the offline proof is never taken for a replay.
                challenge = os.urandom(8)
                cryptogram = card.internal_authenticate(challenge)
            else:
                auth_id = a.get("card_auth_id")
                if not isinstance(auth_id, str) or not _CARD_AUTH_ID.match(auth_id):
                    raise QueryFailed("query.error.garbage", "card_auth_id")
                log.info("event=card_auth outcome=genuine mode=online psam_checked=%d", psam_checked)
                return CardProof(info.card_number, card_auth_id=auth_id, psam_checked=psam_checked)
        log.info("event=card_auth outcome=pending mode=offline psam_checked=%d", psam_checked)
        return CardProof(info.card_number, challenge=challenge, cryptogram=cryptogram, psam_checked=psam_checked)

    @staticmethod
    def _bureau_challenge(query: Query, card_number: str, timeout_s: float) -> dict[str, Any] | None:
        """The bureau's challenge for this card, or None when the bureau cannot be reached."""
        try:
            a = ask(query, "card_auth_challenge", {"card_number": card_number}, timeout_s)
        except QueryFailed as exc:
            if exc.reason == "query.error.offline":
                return None
            if exc.detail == "card_not_found":
                log.warning("event=card_auth outcome=refused by=bureau reason=card_not_found")
                raise CardNotGenuine("the bureau knows no such card") from None
            raise
        if not (_CHALLENGE_ID.match(str(a.get("challenge_id", ""))) and _CHALLENGE.match(str(a.get("challenge", "")))):
            raise QueryFailed("query.error.garbage", "card auth challenge")
        return a

    @staticmethod
    def _psam_check(psam_reader: CardReader | None, info: CardInfo, challenge: bytes, cryptogram: bytes) -> bool:
        """True when the PSAM found the card genuine; False when there is no PSAM to ask (the
        bureau alone judges); CardNotGenuine when the PSAM says it is not."""
        from kiosk.card.security import PsamSecurityModule

        if psam_reader is None:
            log.warning("event=card_auth psam=absent")
            return False
        try:
            psam_reader.connect()
            try:
                genuine = PsamSecurityModule(psam_reader.transmit).card_is_genuine(
                    info.card_number, info.region_code, info.generation, challenge, cryptogram)
            finally:
                psam_reader.end_session()
        except (SecurityModuleError, ReaderError) as exc:
            log.warning("event=card_auth psam=unusable error=%s", type(exc).__name__)
            return False
        if not genuine:
            log.warning("event=card_auth outcome=refused by=psam")
            raise CardNotGenuine("the PSAM did not verify the card's cryptogram")
        return True

    def verify_pin(self, pin: str) -> None:
        self._require().verify_pin(pin)

    def change_pin(self, old: str, new: str) -> None:
        self._require().change_pin(old, new)

    def reload_pin(self, new: str, psam_reader: CardReader) -> None:
        """Reset a forgotten PIN, authorised by the security module (PSAM) in its own slot."""
        from kiosk.card.security import PsamSecurityModule

        card = self._require()
        info = card.read_card_info()
        atr = self._reader().atr or b""
        psam_reader.connect()
        try:
            card.reload_pin(new, PsamSecurityModule(psam_reader.transmit), atr, info)
        finally:
            psam_reader.end_session()

    def tries_left(self) -> int | None:
        try:
            return self._require().pin_tries_left()
        except Exception:  # an unanswerable query is not an error the citizen needs to see
            return None

    def card_present(self) -> bool:
        try:
            return self._reader().card_present()
        except Exception:
            return False

    def wait_for_removal(self, timeout_s: float) -> bool:
        return self._reader().wait_for_removal(timeout_s)

    def end(self) -> None:
        """Forget the card session (the card stays powered until it is taken)."""
        self._card = None
        self._identity = None
        if isinstance(self.reader, Unavailable):
            return
        try:
            self.reader.end_session()
        except Exception as exc:
            log.warning("event=card_end_failed error=%r", exc)
