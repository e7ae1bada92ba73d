"""What goes into the outbox and what comes out of it: plain values, and the Sealer port.

Nothing here touches the file. EnvelopeMeta is what the kiosk says about a submission in the
clear (never personal data); the rest are the answers Outbox gives its two users, the UI
(Receipt, Capacity) and the sync daemon and the maintenance screen (Item, QueueStatus, Alert,
DeadLetter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypedDict, runtime_checkable


@dataclass(frozen=True, slots=True)
class EnvelopeMeta:
    """What the kiosk says about a submission in the clear: never personal data."""

    kind: str
    reference: str
    idempotency_key: str
    created_at: float
    kiosk_id: str
    clock_synced: bool
    boot: int
    created_mono: float


class Sealer(Protocol):
    """Seals a submission's plaintext to the bureau (kiosk.sync.seal.BureauSealer)."""

    def seal(self, payload: bytes, meta: EnvelopeMeta) -> bytes: ...


@runtime_checkable
class AheadSealer(Sealer, Protocol):
    """A sealer that can make part of its next seal while the caller waits on I/O."""

    def prepare_next(self) -> None: ...


class NoSealer:
    """For processes that only drain or inspect the queue (the daemon, the CLI): they need no
    bureau key, so a missing key file never stops the queue from draining."""

    def seal(self, payload: bytes, meta: EnvelopeMeta) -> bytes:
        raise RuntimeError("this process does not queue submissions")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the citizen's receipt shows: the reference, and the key that makes resending safe."""

    reference: str
    idempotency_key: str
    created_at: float
    clock_synced: bool


@dataclass(frozen=True)
class Item:
    """One claimed row, ready to send."""

    id: int
    reference: str
    idempotency_key: str
    kind: str
    envelope: bytes
    attempts: int
    created_at: float


@dataclass(frozen=True)
class Capacity:
    """Whether a new submission can be stored, asked before the citizen types anything."""

    ok: bool
    reason: str  # message key, "" when ok
    free_mb: float


@dataclass(frozen=True)
class QueueStatus:
    pending: int
    in_flight: int
    dead: int
    oldest_pending_age_s: float | None
    last_success_at: float | None  # wall clock of the last acknowledged batch or heartbeat
    alerts: int
    db_bytes: int


@dataclass(frozen=True)
class Alert:
    id: int
    at: float
    kind: str
    detail: str


class DeadLetter(TypedDict):
    """A dead letter's clear metadata, for the maintenance screen (no personal data)."""

    id: int
    reference: str
    kind: str
    created_at: float
    attempts: int
    last_error: str | None
