"""Calls bounded in time on a driver that has no timeout of its own (PC/SC transmit): each runs on
a worker thread, and a call that overruns is abandoned with its thread, never joined."""

from __future__ import annotations

import concurrent.futures as cf
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[Callable[[], Any], "cf.Future[Any]"]


class BoundedWorker:
    """A daemon thread that runs one call at a time. After a call overran, the thread finishes
    that call (whenever the driver lets go) and ends; the owner starts a new worker."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.abandoned = False
        self.current: cf.Future[Any] | None = None  # the call in progress (or last finished)
        self.name = name
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, fut = job
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn())
                except BaseException as exc:  # handed to the waiting caller
                    fut.set_exception(exc)
            if self.abandoned:
                return

    def call(self, fn: Callable[[], T], timeout_s: float) -> T:
        """fn's result, or its exception; cf.TimeoutError when it overran (the worker is then
        abandoned: it takes no further calls)."""
        fut: cf.Future[T] = cf.Future()
        self.current = fut
        self._jobs.put((fn, fut))
        try:
            return fut.result(timeout=timeout_s)
        except cf.TimeoutError:
            self.abandoned = True
            raise

    def stop(self) -> None:
        self._jobs.put(None)

    def __repr__(self) -> str:
        return f"<BoundedWorker {self.name} abandoned={self.abandoned}>"
