"""Waiting out an API server that does not answer (a restart, an upgrade, a network partition).

When a reconcile gets no answer at all from the API server, retrying each AsgiService on its own backoff would
either hammer a server that is coming up (short backoffs, every object) or leave the rollouts idle long after
it is back (long ones: a 20 s outage could cost 30 s more). Instead the object is parked here, and ONE probe
(`/readyz`, every 0.5 s at first, then every 2 s) runs while anything is parked; the moment the API server says
it is ready, every parked object is reconciled. A rollout therefore resumes within about two seconds of the
API server's return, whatever the outage's length, with one request every two seconds meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from .queue import Key

log = logging.getLogger(__name__)
PROBE_DELAYS: Final = (0.5, 1.0, 2.0)  # between probes; the last one repeats


class WaitForApi:
    def __init__(
        self,
        probe: Callable[[], Awaitable[bool]],
        resume: Callable[[Key], None],
        delays: Sequence[float] = PROBE_DELAYS,
    ) -> None:
        self.probe = probe  # True once the API server answers and is ready
        self.resume = resume  # reconcile this key now
        self.delays = tuple(delays)
        self.parked: set[Key] = set()
        self._task: asyncio.Task[None] | None = None

    def park(self, key: Key, why: str) -> None:
        """`key`'s reconcile got no answer: reconcile it again once the API server is back."""
        self.parked.add(key)
        if self._task is None or self._task.done():
            log.warning("the API server does not answer (%s): reconciles wait until it is ready again", why)
            self._task = asyncio.create_task(self._wait(), name="wait-for-api")

    async def _wait(self) -> None:
        started, attempt = time.monotonic(), 0
        while True:
            await asyncio.sleep(self.delays[min(attempt, len(self.delays) - 1)])
            attempt += 1
            try:
                if await self.probe():
                    break
            except Exception as e:  # a probe that cannot tell is a "not yet", never the end of the waiting
                log.warning("probing the API server failed: %s", e)
        keys, self.parked = sorted(self.parked), set()
        log.info(
            "the API server is ready again after %.1fs of waiting: %d AsgiService(s) reconciled now",
            time.monotonic() - started,
            len(keys),
        )
        for key in keys:
            self.resume(key)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
