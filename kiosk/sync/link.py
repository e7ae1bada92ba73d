"""What the sync daemon knows of its line to the bureau: online or not, why, and until when it
holds off. Every request (batches, heartbeats, reference data, live queries) reports here."""

from __future__ import annotations

import logging
import time

from kiosk.sync.backoff import Backoff
from kiosk.sync.client import BureauError

log = logging.getLogger(__name__)


class Link:
    """Online state with the consecutive failure count behind the backoff."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self.online: bool | None = None  # None: not talked to the bureau yet
        self.failures = 0
        self.last_error = ""
        self.hold_until = 0.0  # monotonic: no batch is sent before this

    def __repr__(self) -> str:
        return f"<Link online={self.online} failures={self.failures}>"

    def came_online(self) -> None:
        if self.online is not True:
            log.info("event=bureau_online")
        self.online, self.failures, self.last_error = True, 0, ""

    def went_offline(self, exc: BureauError, retry_after: float | None) -> None:
        self.failures += 1
        if self.online is not False or self.failures in (1, 10, 100):
            log.warning("event=bureau_unreachable failures=%d reason=%r", self.failures,
                        exc.reason[:120])
        self.online, self.last_error = False, exc.reason[:200]
        self.hold(self.backoff.delay(self.failures, retry_after))

    def hold(self, seconds: float) -> None:
        self.hold_until = time.monotonic() + seconds

    def held(self, now: float) -> bool:
        return now < self.hold_until
