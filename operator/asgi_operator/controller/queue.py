"""A work queue like controller-runtime's: one reconcile at a time per object, bursts of triggers coalesced
into one run, retries with exponential backoff, and delayed wake-ups for rollouts in progress.

Nothing is polled: an object is reconciled when something about it changed (a watch event on it or one of
its children), when its rollout asked to be woken at a given time, or when a failed attempt is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Key = tuple[str, str]  # (namespace, name)
log = logging.getLogger(__name__)


class RetryLater(Exception):
    """An expected failure the worker already reported (status, events): retried with backoff (or after
    `after` seconds, when the failure says how long) and logged as one line, without a traceback."""

    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


@dataclass
class _Entry:
    dirty: bool = False
    running: bool = False
    failures: int = 0
    timer: asyncio.TimerHandle | None = None
    timer_due: float = float("inf")


@dataclass
class WorkQueue:
    """`work(key)` returns the number of seconds after which to run again (or None)."""

    work: Callable[[Key], Awaitable[float | None]]
    concurrency: int = 8
    base_backoff: float = 1.0
    max_backoff: float = 300.0
    _entries: dict[Key, _Entry] = field(default_factory=dict)
    _ready: asyncio.Queue[Key] = field(default_factory=asyncio.Queue)
    _workers: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        if not self._workers:
            self._workers = [
                asyncio.create_task(self._worker(), name=f"reconcile-{i}") for i in range(self.concurrency)
            ]

    async def stop(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        for entry in self._entries.values():
            if entry.timer:
                entry.timer.cancel()

    def enqueue(self, key: Key) -> None:
        entry = self._entries.setdefault(key, _Entry())
        if entry.running:
            entry.dirty = True  # run again right after the current run
        elif not entry.dirty:
            entry.dirty = True
            self._ready.put_nowait(key)

    def enqueue_after(self, key: Key, delay: float) -> None:
        loop = asyncio.get_running_loop()
        entry = self._entries.setdefault(key, _Entry())
        due = loop.time() + max(0.0, delay)
        if entry.timer is not None and entry.timer_due <= due:
            return  # an earlier wake-up is already scheduled
        if entry.timer is not None:
            entry.timer.cancel()
        entry.timer_due = due
        entry.timer = loop.call_at(due, self._fire, key)

    def forget(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry and entry.timer:
            entry.timer.cancel()

    def _fire(self, key: Key) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.timer, entry.timer_due = None, float("inf")
            self.enqueue(key)

    async def _worker(self) -> None:
        while True:
            key = await self._ready.get()
            entry = self._entries.get(key)
            if entry is None or entry.running:
                continue
            entry.dirty, entry.running = False, True
            try:
                again = await self.work(key)
            except asyncio.CancelledError:
                raise
            except RetryLater as e:
                entry.failures += 1
                log.warning("reconcile of %s/%s will be retried: %s", *key, e)
                again = e.after if e.after is not None else self._backoff(entry.failures)
            except Exception:  # an unexpected failure: keep the traceback, retry with backoff
                log.exception("reconcile of %s/%s failed", *key)
                entry.failures += 1
                again = self._backoff(entry.failures)
            finally:
                entry.running = False
            if key not in self._entries:
                continue
            if entry.dirty:
                self._ready.put_nowait(key)
            if again is not None:
                self.enqueue_after(key, again)

    def _backoff(self, failures: int) -> float:
        return float(min(self.max_backoff, self.base_backoff * 2 ** (failures - 1)))

    def succeeded(self, key: Key) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.failures = 0

    @property
    def pending(self) -> int:
        return self._ready.qsize()
