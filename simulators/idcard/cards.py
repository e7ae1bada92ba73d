"""The simulated ID cards: identity from simulators/data/personas.toml, card facts from
cards.toml beside this file, encoded as a reader returns them (UCS-2LE fixed-width fields,
space padded; a stand-in photo block that is only bytes, never a picture)."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PERSONAS_FILE = HERE.parent / "data" / "personas.toml"
CARDS_FILE = HERE / "cards.toml"

# (field, width in UCS-2 characters), in card order: 256 bytes in all.
LAYOUT = (("name", 15), ("sex", 1), ("nation", 2), ("birth", 8), ("address", 35), ("id_number", 18),
          ("authority", 15), ("valid_from", 8), ("valid_until", 8), ("reserved", 18))
PHOTO_LEN = 1024


@dataclass(frozen=True)
class IdCard:
    persona: str
    fields: dict[str, str]

    def text_block(self) -> bytes:
        out = b""
        for key, width in LAYOUT:
            value = self.fields.get(key, "")
            if len(value) > width:
                raise ValueError(f"{self.persona}: {key} longer than {width} characters")
            out += value.ljust(width).encode("utf-16-le")
        return out

    def photo_block(self) -> bytes:
        """1,024 bytes standing in for the wlt-compressed photo (a readable reader never decodes)."""
        seed = hashlib.sha256(self.fields["id_number"].encode()).digest()
        return (b"WLT\x00" + seed * 40)[:PHOTO_LEN]


def load_cards(cards_file: Path = CARDS_FILE, personas_file: Path = PERSONAS_FILE) -> dict[str, IdCard]:
    citizens = {c["id_number"]: c for c in tomllib.loads(personas_file.read_text(encoding="utf-8"))["citizens"]}
    cards = {}
    for persona, facts in tomllib.loads(cards_file.read_text(encoding="utf-8"))["cards"].items():
        who = citizens[facts["id_number"]]
        fields = {
            "name": facts.get("name_on_card", who["name"]),
            "sex": {"M": "1", "F": "2"}[who["sex"]],
            "nation": who["ethnicity"],
            "birth": who["birth_date"].replace("-", ""),
            "address": facts["address"],
            "id_number": facts.get("id_number_on_card", facts["id_number"]),
            "authority": facts["authority"],
            "valid_from": facts["valid_from"],
            "valid_until": facts["valid_until"],
        }
        cards[persona] = IdCard(persona, fields)
    return cards
