"""What the card says about itself (EF05) and its holder (EF06), as frozen values.

repr masks the ID number and the name, so a value can never leak personal data into a log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kiosk.domain.masking import mask_id, mask_name


@dataclass(frozen=True)
class CardInfo:
    """EF05: card identification, specification version, dates, card number."""

    region_code: str  # 6 digits from the card identification code (tag 01)
    card_id: bytes  # tag 01, 16 bytes
    spec_version: str  # "2.00", "3.00"
    generation: int  # first character of spec_version
    issue_date: dt.date | None
    expiry_date: dt.date | None
    card_number: str

    def expired(self, today: dt.date) -> bool:
        return self.expiry_date is not None and self.expiry_date < today

    def __repr__(self) -> str:
        num = self.card_number
        masked = num[:2] + "*" * max(0, len(num) - 4) + num[-2:] if len(num) > 4 else "*" * len(num)
        return (f"CardInfo(gen={self.generation}, region={self.region_code}, card={masked}, "
                f"expiry={self.expiry_date})")


@dataclass(frozen=True)
class Holder:
    """EF06: the citizen the card belongs to."""

    id_number: str
    name: str  # the name to show: tag 09, with tag 4E applied (see codec.combine_name)
    name_basic: str  # tag 09 alone
    name_extension: str | None  # tag 4E when present and not blank
    sex: str  # "1" male, "2" female, "" unknown
    id_number_valid: bool  # the GB 11643 check character matches

    def __repr__(self) -> str:
        return f"Holder(id={mask_id(self.id_number)}, name={mask_name(self.name)}, sex={self.sex or '-'})"

    __str__ = __repr__


@dataclass(frozen=True)
class CardIdentity:
    info: CardInfo
    holder: Holder
    apdus: int  # commands the read cost (for the bench and for diagnosing slow readers)
