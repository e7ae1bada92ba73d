"""Pension qualification authentication and the annual review as data: the family members a
citizen may certify for, and the CertificationData a submission carries (docs/bureau-api.yaml)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kiosk.domain.citizen_id import sex
from kiosk.domain.masking import mask_id, mask_name
from kiosk.services.face_check import LivenessSummary, Query, ask
from kiosk.services.queries import Assurance, QueryFailed

log = logging.getLogger(__name__)

RESIDENCES = ("local", "other_city", "abroad")
RELATIONS = ("spouse", "parent", "child", "sibling", "other")


@dataclass(frozen=True)
class Person:
    """Who a step is about: typed by the citizen, read from the card, or a listed family member."""

    id_number: str
    name: str

    def to_json(self) -> dict[str, str]:
        return {"id_number": self.id_number, "name": self.name}

    def __repr__(self) -> str:
        return f"Person({mask_id(self.id_number)}, {mask_name(self.name)})"


# The bureau's contract says "parent" and "child"; a citizen says 父亲 or 母亲, 儿子 or 女儿. The
# ID number says which (its 17th digit); without a readable one the contract's word stays.
_BY_SEX = {("parent", "male"): "father", ("parent", "female"): "mother",
           ("child", "male"): "son", ("child", "female"): "daughter"}


def relation_word(relation: str, id_number: str) -> str:
    """The relation as shown for this person (the id of relation.<word>, family.member.<word>)."""
    return _BY_SEX.get((relation, sex(id_number) or ""), relation)


@dataclass(frozen=True)
class FamilyMember:
    person: Person
    relation: str  # one of RELATIONS
    retired: bool
    certification_due: bool

    @property
    def shown_relation(self) -> str:
        return relation_word(self.relation, self.person.id_number)


def family_members(query: Query, id_number: str, assurance: Assurance, timeout_s: float) -> list[FamilyMember]:
    """The relatives registered in the citizen's family account (the citizen must be identified)."""
    a = ask(query, "family_members", {"id_number": id_number, "assurance": assurance.to_json()}, timeout_s)
    out = []
    try:
        for m in a["members"]:
            if m["relation"] not in RELATIONS:
                raise QueryFailed("query.error.garbage", "family relation")
            out.append(FamilyMember(Person(str(m["id_number"]), str(m["name"])), m["relation"],
                                    bool(m["retired"]), bool(m["certification_due"])))
    except (KeyError, TypeError) as exc:
        raise QueryFailed("query.error.garbage", repr(exc)) from None
    log.info("event=family_members count=%d", len(out))
    return out


def assurance_json(assurance: Assurance | None) -> dict[str, Any]:
    """None: identity not established at the kiosk (made offline); the bureau judges the pictures."""
    return {"method": "none"} if assurance is None else assurance.to_json()


def certification_data(residence: str, liveness: LivenessSummary, assurance: Assurance | None,
                       operator: Person | None = None, relation: str = "") -> dict[str, Any]:
    """CertificationData; `operator` and `relation` when a family member does it for the citizen."""
    if residence not in RESIDENCES:
        raise ValueError(f"residence {residence!r}")
    data: dict[str, Any] = {"residence": residence, "liveness": liveness.to_json(),
                            "assurance": assurance_json(assurance)}
    if operator is not None:
        data["on_behalf_of"] = {"relation": relation, "operator": operator.to_json()}
    return data
