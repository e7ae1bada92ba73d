"""Test citizens for the bureau simulator, read from simulators/data/personas.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "personas.toml"

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_number_valid(text: str) -> bool:
    """GB 11643 structure and ISO 7064 MOD 11-2 check character (written here, not imported)."""
    if len(text) != 18 or not text[:17].isdigit() or not text[:17].isascii():
        return False
    return _CHECK[sum(int(d) * w for d, w in zip(text, _WEIGHTS)) % 11] == text[17]


def mask_id(text: str) -> str:
    """For logs: 1101**********123X."""
    return text[:4] + "*" * 10 + text[-4:] if len(text) == 18 else "*" * len(text)


def mask_name(name: str) -> str:
    """What a screen or a certificate check may show: 王*英, 王*, 欧**锋 (code points, not bytes)."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


@dataclass(frozen=True)
class Card:
    number: str
    status: str
    generation: int
    issued_on: str
    expires_on: str
    bank: str
    bank_account: str
    reported_lost_at: str | None = None
    region_code: str = ""  # first 3 bytes (BCD) of the card identification code


@dataclass(frozen=True)
class Application:
    application_id: str
    reason: str
    outlet_id: str
    stages: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Persona:
    id_number: str
    name: str
    sex: str
    birth_date: str
    retired: bool
    insured_since: str
    payment_base: Decimal
    owed_months: tuple[str, ...]
    medical_balance_start: Decimal
    photo_of_record: str
    card: Card
    retired_since: str | None = None
    pension_monthly: Decimal | None = None
    bureau_card_status: str | None = None
    family: tuple[tuple[str, str], ...] = ()
    applications: tuple[Application, ...] = field(default=())


@dataclass(frozen=True)
class Personas:
    citizens: dict[str, Persona]
    outlets: tuple[dict[str, str], ...]
    payment_base_year: int
    path: Path
    card_auth_keys: dict[int, bytes] = field(default_factory=dict, repr=False)  # by algorithm

    def get(self, id_number: str) -> Persona | None:
        return self.citizens.get(id_number)

    def by_card(self, card_number: str) -> Persona | None:
        return next((p for p in self.citizens.values() if p.card.number == card_number), None)

    def outlet(self, outlet_id: str) -> dict[str, str] | None:
        return next((o for o in self.outlets if o["outlet_id"] == outlet_id), None)


def _persona(raw: dict[str, Any]) -> Persona:
    card = raw["card"]
    pension = raw.get("pension_monthly")
    return Persona(
        id_number=raw["id_number"],
        name=raw["name"],
        sex=raw["sex"],
        birth_date=raw["birth_date"],
        retired=bool(raw["retired"]),
        insured_since=raw["insured_since"],
        payment_base=Decimal(raw["payment_base"]),
        owed_months=tuple(raw.get("owed_months", ())),
        medical_balance_start=Decimal(raw.get("medical_balance_start", "0.00")),
        photo_of_record=raw.get("photo_of_record", ""),
        card=Card(
            number=card["number"],
            status=card["status"],
            generation=int(card["generation"]),
            issued_on=card["issued_on"],
            expires_on=card["expires_on"],
            bank=card["bank"],
            bank_account=card["bank_account"],
            reported_lost_at=card.get("reported_lost_at"),
            region_code=str(card.get("card_id_code", ""))[:6] or str(raw.get("region_code", ""))
            or raw["id_number"][:6],
        ),
        retired_since=raw.get("retired_since"),
        pension_monthly=Decimal(pension) if pension is not None else None,
        bureau_card_status=raw.get("bureau_card_status"),
        family=tuple((f["id_number"], f["relation"]) for f in raw.get("family", ())),
        applications=tuple(
            Application(
                application_id=a["application_id"],
                reason=a["reason"],
                outlet_id=a["outlet_id"],
                stages=tuple((s["stage"], s["at"]) for s in a["stages"]),
            )
            for a in raw.get("applications", ())
        ),
    )


def load(path: Path = DEFAULT_PATH) -> Personas:
    """Read and check the persona file; a bad ID number there is a bug, so it raises."""
    with open(path, "rb") as handle:
        raw = tomllib.load(handle)
    citizens: dict[str, Persona] = {}
    for entry in raw.get("citizens", ()):
        persona = _persona(entry)
        if not id_number_valid(persona.id_number):
            raise ValueError(f"persona id_number has a bad check character: {persona.id_number}")
        citizens[persona.id_number] = persona
    for persona in citizens.values():
        for member, _ in persona.family:
            if member not in citizens:
                raise ValueError(f"family member {mask_id(member)} is not a persona")
    outlets = tuple(dict(o) for o in raw.get("outlets", ()))
    keys = raw.get("issuer_keys", {})
    card_auth_keys = {alg: bytes.fromhex(keys[name]) for alg, name in
                      ((1, "card_auth_des3"), (2, "card_auth_sm4")) if name in keys}
    return Personas(citizens, outlets, int(raw.get("payment_base_year", 2024)), Path(path),
                    card_auth_keys)
