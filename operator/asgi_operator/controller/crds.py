"""A CRD of a kind the operator keeps, installed while it runs: wake everything once the API server SERVES it.

The API server says a new CRD is Established a moment before its discovery document lists the resource (they are
updated by different controllers: 2 to 40 ms apart on the lab): a reconcile or a LIST that the CRD's last event
wakes in that moment hears "not served", which is then remembered (kube.api's discovery, the informer waiting for
the next CRD event) and nothing wakes the object again. So the kinds of the CRD are asked for until they are
served (a few tries in the first second, at most SERVED_WAIT), and only then are the informers kicked and the
AsgiServices woken. Runs on the event loop; each try is one discovery GET in a thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Final

from ..api.kinds import Kind
from ..kube.api import ApiError, ApiUnreachable, KubeApi

log = logging.getLogger(__name__)
SERVED_WAIT: Final = 30.0  # seconds: after that the kinds are woken anyway (the next CRD event tries again)
FIRST_DELAY: Final = 0.02


class CrdArrivals:
    def __init__(self, api: KubeApi, kinds: Iterable[Kind], woken: Callable[[str], None]) -> None:
        self.api, self.kinds, self.woken = api, tuple(kinds), woken
        self._waiting: dict[tuple[str, str], asyncio.Task[None]] = {}

    def appeared(self, group: str, plural: str, versions: Iterable[str]) -> None:
        """The CRD `plural.group` serving `versions` was added or changed: `woken(group)` once the kinds the
        operator keeps of it are served (at once if it has none)."""
        served = {f"{group}/{v}" for v in versions}
        kinds = [k for k in self.kinds if k.group == group and k.plural == plural and k.api_version in served]
        if not kinds:
            self.woken(group)
            return
        key = (group, plural)
        if key in self._waiting and not self._waiting[key].done():
            return  # already waiting for it: it wakes everything once served
        self._waiting[key] = asyncio.get_running_loop().create_task(self._wait(group, kinds), name=f"crd-{plural}")

    async def _wait(self, group: str, kinds: list[Kind]) -> None:
        loop = asyncio.get_running_loop()
        deadline, delay, tries = loop.time() + SERVED_WAIT, FIRST_DELAY, 0
        while True:
            tries += 1
            self.api.forget_discovery(group)  # a "not served" heard a moment ago is not an answer
            if await loop.run_in_executor(None, self._served, kinds):
                break
            if loop.time() + delay > deadline:
                log.warning("%s not served %.0fs after its CRD appeared", kinds[0].plural, SERVED_WAIT)
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        if tries > 1:
            log.debug("%s served after %d discovery requests", kinds[0].plural, tries)
        self.woken(group)

    def stop(self) -> None:
        for task in self._waiting.values():
            task.cancel()

    def _served(self, kinds: list[Kind]) -> bool:
        try:
            return all(self.api.served(k) for k in kinds)
        except (ApiError, ApiUnreachable) as e:
            log.debug("discovery of %s failed (%s): asked again", kinds[0].group, e)
            return False
