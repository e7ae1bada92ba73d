"""Emulated cards from data files: identity from personas.toml (the bureau's citizens), card-only
facts from cards.toml, and the card state that must survive a restart (PIN, tries left).
"""

from __future__ import annotations

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

# personas.toml belongs to the bureau simulator; accept the spellings it may use.
_ALIASES = {
    "id_number": ("id_number", "citizen_id", "id", "sfzh"),
    "name": ("name", "full_name"),
    "card_number": ("card_number", "card_no"),
    "generation": ("generation", "card_generation"),
    "initial_pin": ("initial_pin", "pin"),
    "sex": ("sex", "gender"),
}


@dataclass(frozen=True)
class CardFacts:
    """Everything the chip knows that does not change while it is in use."""

    persona: str
    atr: bytes
    generation: int
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
    mute: bool = False
    retry_limit: int = 3
    initial_pin: str = "123456"
    initial_tries: int | None = None  # None: the full retry limit
    keys: dict[int, bytes] = field(default_factory=dict, hash=False, compare=False)

    def master_key(self, alg: int) -> bytes:
        return self.keys[alg]


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


def _pick(entry: dict[str, Any], key: str) -> Any:
    for alias in _ALIASES.get(key, (key,)):
        if alias in entry:
            return entry[alias]
    return None


def _bureau_people(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    people: dict[str, dict[str, Any]] = {}
    for section in ("personas", "persona", "citizens", "citizen"):
        body = doc.get(section)
        if isinstance(body, dict):
            people.update({k: v for k, v in body.items() if isinstance(v, dict)})
        elif isinstance(body, list):
            people.update({str(e.get("id")): e for e in body if isinstance(e, dict) and "id" in e})
    return people


def load_cards(cards_file: Path = CARDS_FILE, personas_file: Path = PERSONAS_FILE) -> dict[str, CardFacts]:
    """Every card in cards.toml with its holder's identity from personas.toml.

    A card whose persona the bureau file does not (yet) list uses the `identity` table of
    cards.toml, so the emulator stays usable on its own.
    """
    from simulators.card import crypto

    with cards_file.open("rb") as fh:
        doc = tomllib.load(fh)
    defaults = doc.get("defaults", {})
    keys = {
        crypto.ALG_3DES: bytes.fromhex(doc["master_keys"]["des3"]),
        crypto.ALG_SM4: bytes.fromhex(doc["master_keys"]["sm4"]),
    }
    people = _bureau_people(personas_file)
    cards: dict[str, CardFacts] = {}
    for pid, card in doc.get("cards", {}).items():
        c = {**defaults, **card}
        who = dict(c.get("identity", {}))
        bureau = people.get(pid)
        if bureau:
            who.update({k: v for k in _ALIASES if (v := _pick(bureau, k)) is not None})
        elif who:
            log.debug("event=identity_fallback persona=%s source=cards.toml", pid)
        if not who.get("id_number"):
            log.warning("event=card_skipped persona=%s reason=no_identity", pid)
            continue
        gen = int(who.get("generation") or c.get("generation", 2))
        number = str(who.get("card_number", "A00000000"))
        region = str(c.get("region_code", who["id_number"][:6]))
        hist = bytes.fromhex(c["atr_historical"]) if "atr_historical" in c else (
            b"SSC" + str(gen).encode() + number[-8:].encode("ascii"))
        serial = hashlib.sha256(number.encode()).digest()[:8]  # stable across runs
        id_number = str(who["id_number"])
        sex = str(who.get("sex") or ("1" if int(id_number[16]) % 2 else "2"))
        sex = {"male": "1", "m": "1", "female": "2", "f": "2", "男": "1", "女": "2"}.get(sex.lower(), sex)
        cards[pid] = CardFacts(
            persona=pid,
            atr=build_atr(hist, c.get("protocol", "T=0")),
            generation=gen,
            card_id=bytes.fromhex(region) + bytes.fromhex("D156000005") + serial,
            init_org=str(c.get("init_org", "")).encode("ascii"),
            issue_date=str(c["issue_date"]),
            expiry_date=str(c["expiry_date"]),
            card_number=number,
            id_number=id_number,
            name=str(who["name"]),
            name_basic=str(c.get("name_basic", "")),
            sex=sex,
            ethnicity=int(c.get("ethnicity", 1)),
            ssc_app=bool(c.get("ssc_app", True)),
            bank_app=bool(c.get("bank_app", True)),
            bank_pan=str(c.get("bank_pan", "6217000000000000000")),
            answer_61xx=bool(c.get("answer_61xx", False)),
            mute=bool(c.get("mute", False)),
            retry_limit=int(c.get("retry_limit", 3)),
            initial_pin=str(who.get("initial_pin") or c.get("initial_pin", "123456")),
            initial_tries=c.get("tries_left"),
            keys=keys,
        )
    return cards


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
