"""What the UI process does in the background every half minute: report device health and usage
to the sync daemon (for the heartbeat), and pick up settings the bureau pushed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.config import BUREAU_LAYER_FILE

log = logging.getLogger(__name__)


class Housekeeping:
    def __init__(self, services: Any, health: Callable[[], dict], workers: Any, reload: Callable[[], Any],
                 apply: Callable[[Any], None], interval_s: float = 30.0) -> None:
        self.services, self.health, self.workers = services, health, workers
        self.reload, self.apply, self.interval_s = reload, apply, interval_s
        self._next = 0.0
        self._bureau_mtime = self._mtime()

    def _mtime(self) -> float:
        try:
            return (Path(self.services.cfg["kiosk.data_dir"]) / BUREAU_LAYER_FILE).stat().st_mtime
        except OSError:
            return 0.0

    def tick(self, now: float) -> None:
        """Called by the loop every frame; the work itself runs on a worker."""
        if now < self._next:
            return
        self._next = now + self.interval_s
        self.workers.submit("housekeeping", self._run, on_done=self._done)

    def _run(self) -> Any:
        from kiosk.services.heartbeat import report

        if self.services.usage is not None:
            report(self.services.sync, self.health(), self.services.usage, printer=self.services.printing)
        mtime = self._mtime()
        if mtime != self._bureau_mtime:
            self._bureau_mtime = mtime
            return self.reload()  # the bureau pushed new settings: validated by the loader
        return None

    def _done(self, job: Any) -> None:
        if job.error is not None:
            log.warning("event=housekeeping_failed error=%r", job.error)
        elif job.result() is not None:
            log.info("event=bureau_settings_applied")
            self.apply(job.result())
