"""Emulated cards from data files: identity from personas.toml (the bureau's citizens), card-only
facts from cards.toml, and the card state that must survive a restart (PIN, tries left).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PERSONAS_FILE = DATA_DIR / "personas.toml"
CARDS_FILE = DATA_DIR / "cards.toml"

@dataclass(frozen=True)
class CardFacts:
    """Everything the chip knows that does not change while it is in use."""

    persona: str
    atr: bytes
    generation: int
    spec_version: str  # tag 03, "2.00" / "3.00"
    card_id: bytes  # tag 01, 16 bytes; first 3 bytes BCD region
    init_org: bytes
    issue_date: str  # YYYYMMDD
    expiry_date: str
    card_number: str
    id_number: str
    name: str
    name_basic: str = ""  # GBK stand-in for a name with characters outside GBK
    sex: str = "1"
    ethnicity: int = 1
    ssc_app: bool = True
    bank_app: bool = True
    bank_pan: str = "6217000000000000000"
    answer_61xx: bool = False
    mute: str = ""  # "", "no_atr" or "silent"
    retry_limit: int = 3
    initial_pin: str = "123456"  # the PIN the chip holds before any change made here
    initial_tries: int | None = None  # None: the full retry limit
    keys: dict[int, bytes] = field(default_factory=dict, hash=False, compare=False)
    # INTERNAL AUTHENTICATE master keys (the bureau's; a forged card holds others)
    auth_keys: dict[int, bytes] = field(default_factory=dict, hash=False, compare=False)

    def master_key(self, alg: int) -> bytes:
        return self.keys[alg]

    def card_auth_master(self, alg: int) -> bytes:
        return self.auth_keys[alg]


def build_atr(historical: bytes, protocol: str) -> bytes:
    """A minimal valid ATR: direct convention, no interface bytes for T=0; TD1 + TCK for T=1."""
    if len(historical) > 15:
        raise ValueError("at most 15 historical bytes")
    if protocol == "T=1":
        body = bytes((0x80 | len(historical), 0x01)) + historical
        tck = 0
        for b in body:
            tck ^= b
        return b"\x3b" + body + bytes((tck,))
    return bytes((0x3B, len(historical))) + historical


def _bureau_cards(path: Path) -> dict[str, dict[str, Any]]:
    """Citizens of personas.toml by card number: their fields plus the chip truth in `card`."""
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    out: dict[str, dict[str, Any]] = {}
    for citizen in doc.get("citizens", []):
        card = citizen.get("card") or {}
        if card.get("number"):
            out[str(card["number"])] = {**{k: v for k, v in citizen.items() if k != "card"}, **card}
    return out


def _yyyymmdd(value: Any) -> str:
    return str(value).replace("-", "")[:8]


def _sex(value: Any, id_number: str) -> str:
    text = str(value or "").strip().upper()
    if text in ("M", "1", "MALE", "男"):
        return "1"
    if text in ("F", "2", "FEMALE", "女"):
        return "2"
    return "1" if int(id_number[16]) % 2 else "2"


def load_cards(cards_file: Path = CARDS_FILE, personas_file: Path = PERSONAS_FILE) -> dict[str, CardFacts]:
    """Every card of cards.toml, joined by card number with the citizen in personas.toml.

    personas.toml is the truth for the holder and the chip's contents; cards.toml adds what only
    an emulator needs (ATR, 61xx, mute). An entry whose number the bureau does not know must
    carry the same fields itself (a card from elsewhere, e.g. the long-name case).
    """
    with cards_file.open("rb") as fh:
        doc = tomllib.load(fh)
    keys, auth_keys = issuer_keys(cards_file, personas_file)
    bureau = _bureau_cards(personas_file)
    cards: dict[str, CardFacts] = {}
    for pid, entry in doc.get("cards", {}).items():
        number = str(entry.get("number", ""))
        c = {**doc.get("defaults", {}), **bureau.get(number, {}), **entry}
        if "id_number" not in c or "name" not in c:
            log.warning("event=card_skipped persona=%s reason=card_number_unknown_to_personas", pid)
            continue
        id_number = str(c["id_number"])
        gen = int(c.get("generation", 2))
        hist = bytes.fromhex(c["atr_historical"]) if "atr_historical" in c else (
            b"SSC" + str(gen).encode() + number[-8:].encode("ascii"))
        card_id = bytes.fromhex(c["card_id_code"]) if "card_id_code" in c else (
            bytes.fromhex(str(c.get("region_code", id_number[:6])))
            + bytes.fromhex("D156000005") + hashlib.sha256(number.encode()).digest()[:8])
        status = str(c.get("status", "active"))
        mute = c.get("mute", "no_atr" if status == "mute" else "")
        limit = int(c.get("pin_try_limit", 3))
        cards[pid] = CardFacts(
            persona=pid,
            atr=build_atr(hist, c.get("protocol", "T=0")),
            generation=gen,
            spec_version=str(c.get("spec_version", f"{gen}.00")),
            card_id=card_id,
            init_org=str(c.get("issuer", "")).encode("ascii"),
            issue_date=_yyyymmdd(c["issued_on"]),
            expiry_date=_yyyymmdd(c["expires_on"]),
            card_number=number,
            id_number=id_number,
            name=str(c["name"]),
            name_basic=str(c.get("name_basic", "")),
            sex=_sex(c.get("sex"), id_number),
            ethnicity=int(c.get("ethnicity", 1)),
            ssc_app=bool(c.get("ssc_app", status != "bank_only")),
            bank_app=bool(c.get("bank_app", True)),
            bank_pan=str(c.get("bank_account", "6217000000000000000")),
            answer_61xx=bool(c.get("answer_61xx", False)),
            mute={True: "silent", False: ""}.get(mute, str(mute)),
            retry_limit=limit,
            initial_pin=str(c.get("pin", c.get("initial_pin", "123456"))),
            initial_tries=int(c.get("pin_tries_left", limit)),
            keys=keys,
            auth_keys=auth_keys,
        )
        if c.get("keys") == "forger":
            # a programmable card loaded with a real citizen's printed numbers, not the issuer's keys
            forged = _key_pair(doc["forger_keys"], "")
            cards[pid] = dataclasses.replace(cards[pid], keys=forged, auth_keys=_key_pair(doc["forger_keys"], "card_auth_"))
    return cards


def _key_pair(table: dict[str, Any], prefix: str) -> dict[int, bytes]:
    from simulators.card import crypto

    return {crypto.ALG_3DES: bytes.fromhex(table[prefix + "des3"]),
            crypto.ALG_SM4: bytes.fromhex(table[prefix + "sm4"])}


def issuer_keys(cards_file: Path = CARDS_FILE, personas_file: Path = PERSONAS_FILE
                ) -> tuple[dict[int, bytes], dict[int, bytes]]:
    """The issuer's master keys: terminal authentication (cards.toml, what the PSAM shares with
    the cards) and card authentication (personas.toml, what the bureau holds)."""
    with cards_file.open("rb") as fh:
        terminal = _key_pair(tomllib.load(fh)["master_keys"], "")
    auth: dict[int, bytes] = {}
    if personas_file.exists():
        with personas_file.open("rb") as fh:
            table = tomllib.load(fh).get("issuer_keys")
        if table:
            auth = _key_pair(table, "card_auth_")
    return terminal, auth


@dataclass(frozen=True)
class PinState:
    pin: str
    tries_left: int


class StateStore:
    """PIN and tries left per persona, in a JSON file written atomically after every change."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists():
            try:
                self._data = json.loads(path.read_text())
            except (OSError, ValueError):
                log.warning("event=state_unreadable path=%s action=start_fresh", path)

    def get(self, facts: CardFacts) -> PinState:
        with self._lock:
            entry = self._data.get(facts.persona)
        if entry is None:
            tries = facts.retry_limit if facts.initial_tries is None else int(facts.initial_tries)
            return PinState(facts.initial_pin, tries)
        return PinState(str(entry["pin"]), int(entry["tries_left"]))

    def put(self, facts: CardFacts, pin: str, tries_left: int) -> None:
        with self._lock:
            self._data[facts.persona] = {"pin": pin, "tries_left": tries_left}
            self._save()

    def reset(self, persona: str | None = None) -> None:
        """Back to the data file's initial state (one persona, or all)."""
        with self._lock:
            if persona is None:
                self._data.clear()
            else:
                self._data.pop(persona, None)
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
