"""Blocking calls (card I/O, printing, queries) run here; the UI loop polls their results.

Every job carries the session token it belongs to, so ending a citizen session drops its
pending jobs and any finished-but-unread results: nothing personal waits in a queue.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Job:
    name: str
    session: int
    future: Future = field(repr=False)
    on_done: Callable[[Job], None] | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.future.done()

    def result(self) -> Any:
        return self.future.result(timeout=0)

    @property
    def error(self) -> BaseException | None:
        return self.future.exception(timeout=0) if self.future.done() else None


class _DaemonPool:
    """A fixed pool of daemon threads. Not concurrent.futures' executor: its threads are joined at
    interpreter exit, so one job stuck in a device call (a PC/SC call to a pcscd that went away
    blocks for good) would keep `kiosk run` (and a test run) from ever exiting."""

    def __init__(self, workers: int, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = \
            queue.SimpleQueue()
        self._closed = False
        for i in range(workers):
            threading.Thread(target=self._serve, name=f"{name}_{i}", daemon=True).start()
        self._workers = workers

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        if self._closed:
            future.cancel()
        else:
            self._queue.put((future, fn, args))
        return future

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._run(*item)
            item = None  # nothing of a finished job stays referenced while this thread waits

    @staticmethod
    def _run(future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """One job; its result and its locals are gone when this returns (the future holds them)."""
        if not future.set_running_or_notify_cancel():
            return  # cancelled while it waited (its session ended)
        try:
            result = fn(*args)
        except BaseException as exc:  # handed to whoever waits for the job
            future.set_exception(exc)
        else:
            future.set_result(result)

    def shutdown(self) -> None:
        """Cancel what has not started; running jobs finish on their own (the threads are daemons)."""
        self._closed = True
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in range(self._workers):
            self._queue.put(None)


class Workers:
    """A small thread pool plus a completion queue the UI loop drains once per frame."""

    def __init__(self, max_workers: int = 4) -> None:
        self._pool = _DaemonPool(max_workers, "kiosk-worker")
        # Finished futures, not jobs: a done-callback that held its Job would make a cycle
        # (job -> future -> callback -> job) that keeps the job's result (the liveness verdict with
        # its four JPEGs, a card's holder data) and on_done's screen alive until a full garbage
        # collection, long after the session that owned them was wiped.
        self._done: queue.SimpleQueue[Future] = queue.SimpleQueue()
        self._jobs: dict[Future, Job] = {}
        self._lock = threading.Lock()

    def submit(self, name: str, fn: Callable[..., Any], *args: Any, session: int = 0,
               on_done: Callable[[Job], None] | None = None) -> Job:
        job = Job(name, session, self._pool.submit(fn, *args), on_done)
        with self._lock:
            self._jobs[job.future] = job
        job.future.add_done_callback(self._done.put)
        return job

    def poll(self) -> list[Job]:
        """Finished jobs since the last poll; their on_done callbacks run here, on the loop."""
        finished = []
        while True:
            try:
                future = self._done.get_nowait()
            except queue.Empty:
                break
            with self._lock:
                job = self._jobs.pop(future, None)
            if job is None:
                continue  # dropped with its session
            finished.append(job)
            if job.error is not None:
                log.warning("event=job_failed job=%s error=%s", job.name, type(job.error).__name__)
            if job.on_done is not None:
                job.on_done(job)
        return finished

    def drop_session(self, session: int) -> int:
        """Forget every job of a session: pending ones are cancelled, results are discarded."""
        with self._lock:
            mine = [j for j in self._jobs.values() if j.session == session]
            for job in mine:
                del self._jobs[job.future]
        for job in mine:
            job.future.cancel()
            # A running job cannot be stopped; drop our reference to whatever it returns.
            job.on_done = None
        # Drain finished results of dropped jobs so nothing personal waits in the queue.
        keep = []
        while True:
            try:
                future = self._done.get_nowait()
            except queue.Empty:
                break
            with self._lock:
                if future in self._jobs:
                    keep.append(future)
        for future in keep:
            self._done.put(future)
        return len(mine)

    def pending(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def close(self) -> None:
        self._pool.shutdown()

    def __repr__(self) -> str:
        return f"<Workers pending={len(self._jobs)}>"
