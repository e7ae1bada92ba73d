"""Sending the outbox to the bureau: claim a batch, submit it, settle every row by its outcome.

A row is deleted only on the bureau's acknowledgement, dead-lettered only on a permanent refusal
of that row, and otherwise tried again after a backoff. A refusal of the whole batch that says
"this kiosk may not send" holds the queue with an alert instead of dead-lettering everything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from kiosk.sync.client import (
    MAX_BATCH,
    MAX_REQUEST_BYTES,
    BureauGarbage,
    BureauRejected,
    BureauUnreachable,
    Outcome,
)
from kiosk.sync.link import Link
from kiosk.sync.outbox import Item, Outbox
from kiosk.sync.storage import StorageFull

log = logging.getLogger(__name__)

# A batch-level refusal with these statuses says "this kiosk may not send", not "these items are
# bad": hold the queue and raise an alert instead of dead-lettering every submission. A 404 to
# the whole request is the bureau not knowing this kiosk (or a wrong bureau URL): the same.
NOT_AUTHORISED = (401, 403, 404, 407)


class Submitter(Protocol):
    """The part of BureauClient the drain uses."""

    def submit(self, items: Sequence[Item]) -> list[Outcome]: ...


class Drainer:
    """Sends one batch per call; tick() is called between single sends (systemd's watchdog)."""

    def __init__(self, outbox: Outbox, client: Submitter, link: Link, *, batch_size: int,
                 hold_s: float, tick: Callable[[], None]) -> None:
        self.outbox, self.client, self.link = outbox, client, link
        self.batch = max(1, min(batch_size, MAX_BATCH))
        self.hold_s = hold_s  # how long a refused kiosk waits (sync.backoff_max_s)
        self._tick = tick
        self.sent = 0

    def __repr__(self) -> str:
        return f"<Drainer batch={self.batch} sent={self.sent}>"

    def drain_once(self) -> int:
        """Claim and send one batch; returns how many rows were settled (acked or dead)."""
        items = self._claim()
        if not items:
            return 0
        try:
            outcomes = self.client.submit(items)
        except BureauRejected as exc:
            return self._batch_rejected(items, exc)
        except (BureauUnreachable, BureauGarbage) as exc:
            after = exc.retry_after if isinstance(exc, BureauUnreachable) else None
            self.outbox.fail([i.id for i in items], exc.reason, retry_after=after)
            self.link.went_offline(exc, after)
            return 0
        self.link.came_online()
        return self._settle(outcomes)

    def _claim(self) -> list[Item]:
        try:
            return self.outbox.claim_batch(self.batch, MAX_REQUEST_BYTES)
        except StorageFull:
            # A full disk: sending is what frees it, so never exit over it (systemd would
            # restart us for ever while nothing moves). One row claims with the least WAL.
            try:
                return self.outbox.claim_batch(1)
            except StorageFull as exc:
                log.error("event=sync_disk_full reason=%r", str(exc)[:120])
                self.link.hold(self.link.backoff.delay(1))
                return []

    def _settle(self, outcomes: list[Outcome]) -> int:
        acks = [o.item_id for o in outcomes if o.action == "ack"]
        retries = [o for o in outcomes if o.action == "retry"]
        try:
            self.outbox.ack(acks)  # first: deleting acknowledged rows is what frees the disk
        except StorageFull as exc:
            # The bureau has them; they stay in flight and are resent (same keys) next start.
            log.error("event=sync_ack_disk_full rows=%d reason=%r", len(acks), str(exc)[:120])
            self.link.hold(self.link.backoff.delay(1))
            return 0
        dead: dict[str, list[int]] = {}
        for o in outcomes:
            if o.action == "dead":
                dead.setdefault(o.reason, []).append(o.item_id)
        for reason, ids in dead.items():
            self.outbox.dead_letter(ids, reason)
        for o in retries:
            self.outbox.fail([o.item_id], o.reason)
        self.sent += len(acks)
        log.info("event=batch_sent acked=%d dead=%d retry=%d", len(acks),
                 sum(map(len, dead.values())), len(retries))
        return len(acks) + sum(map(len, dead.values()))

    def _batch_rejected(self, items: list[Item], exc: BureauRejected) -> int:
        self.link.came_online()
        ids = [i.id for i in items]
        if exc.status in NOT_AUTHORISED:
            self.outbox.fail(ids, exc.reason, retry_after=self.hold_s)
            self.outbox.record_alert("bureau_refused_kiosk", exc.reason[:200])
            self.link.hold(self.hold_s)
            log.error("event=bureau_refused_kiosk status=%s code=%s", exc.status, exc.code)
            return 0
        if len(items) > 1:
            # Some item spoiled the whole batch (or it was too large): send one by one to find
            # which, and keep batches small for a while.
            if exc.status == 413:
                self.batch = max(1, self.batch // 2)
            settled = 0
            for item in items:
                self._tick()  # up to one request timeout per item
                settled += self._send_single(item)
            return settled
        self.outbox.dead_letter(ids, exc.reason)
        return 1

    def _send_single(self, item: Item) -> int:
        try:
            return self._settle(self.client.submit([item]))
        except BureauRejected as exc:
            if exc.status in NOT_AUTHORISED:
                self.outbox.fail([item.id], exc.reason, retry_after=self.hold_s)
                return 0
            self.outbox.dead_letter([item.id], exc.reason)
            return 1
        except (BureauUnreachable, BureauGarbage) as exc:
            self.outbox.fail([item.id], exc.reason,
                             retry_after=exc.retry_after if isinstance(exc, BureauUnreachable)
                             else None)
            return 0
