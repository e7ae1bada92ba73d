"""Region profiles: what differs between regions' cards is data here, not `if`s in flows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegionProfile:
    name: str
    initial_pin: str = "123456"  # the PIN a new card is issued with
    retry_limit: int = 3  # wrong PINs before the card blocks
    pin_length: int = 6
    record_mode: int = 4  # READ RECORD P2 low bits: 4 = P1 is the record's tag
    ext_auth_key_id: int = 0x01  # P2 of EXTERNAL AUTHENTICATE for PIN reload
    int_auth_key_id: int = 0x00  # P2 of INTERNAL AUTHENTICATE (card authentication)


PROFILES: dict[str, RegionProfile] = {
    p.name: p
    for p in (
        RegionProfile("national"),
        RegionProfile("initial-888888", initial_pin="888888"),
        RegionProfile("initial-000000", initial_pin="000000"),
        RegionProfile("retry-6", retry_limit=6),
    )
}


def get_profile(name: str) -> RegionProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown card profile {name!r}; known: {', '.join(PROFILES)}") from None
