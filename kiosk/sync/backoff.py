"""Retry timing: exponential backoff with full jitter, never shorter than the bureau's Retry-After.

Full jitter (a uniform draw between 0 and the exponential cap) keeps a hall of kiosks that lost
the network together from coming back in lock-step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    base_s: float = 1.0
    max_s: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def cap(self, attempts: int) -> float:
        """Upper bound of the delay after the attempts-th consecutive failure (1-based)."""
        exp = min(max(attempts, 1) - 1, 30)  # 2**30 s is already far beyond any max_s
        return min(self.max_s, self.base_s * (1 << exp))

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        wait = self.rng.uniform(0, self.cap(attempts))
        if retry_after is not None:
            # Retry-After is the server's floor; beyond our own ceiling we still honour it.
            wait = max(wait, retry_after)
        return wait
