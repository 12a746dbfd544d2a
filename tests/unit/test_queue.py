"""The work queue on its own, the way Kopf tests its queueing: coalescing, one run at a time per object,
retries with backoff, and wake-ups. Time is the event loop's own clock, advanced by a test loop."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from asgi_operator.controller.queue import Key, RetryLater, WorkQueue

A: Key = ("ns", "a")
B: Key = ("ns", "b")


class Recorder:
    """A work function that records each run; `results` says what each run returns or raises."""

    def __init__(self, *results: Any, block: asyncio.Event | None = None) -> None:
        self.runs: list[tuple[Key, float]] = []
        self.results = list(results)
        self.block = block
        self.running = 0
        self.most_at_once = 0
        self.changed = asyncio.Event()

    async def runs_reach(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.runs) < count:
                self.changed.clear()
                await self.changed.wait()

    async def __call__(self, key: Key) -> float | None:
        self.runs.append((key, asyncio.get_running_loop().time()))
        self.changed.set()
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.block is not None:
                await self.block.wait()
            result = self.results.pop(0) if self.results else None
            if isinstance(result, BaseException):
                raise result
            return result  # type: ignore[no-any-return]
        finally:
            self.running -= 1


async def settle() -> None:
    for _ in range(20):  # let the workers pick up what is ready
        await asyncio.sleep(0)


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(body())


def test_a_burst_of_triggers_becomes_one_run() -> None:
    async def body() -> None:
        work = Recorder()
        queue = WorkQueue(work, concurrency=2)
        for _ in range(10):
            queue.enqueue(A)
        queue.start()
        await settle()
        await queue.stop()
        assert [k for k, _ in work.runs] == [A]

    run(body)


def test_a_trigger_during_a_run_runs_again_once_afterwards_never_concurrently() -> None:
    async def body() -> None:
        gate = asyncio.Event()
        work = Recorder(block=gate)
        queue = WorkQueue(work, concurrency=4)
        queue.start()
        queue.enqueue(A)
        await settle()
        for _ in range(5):
            queue.enqueue(A)  # while the first run is in flight
        await settle()
        assert work.most_at_once == 1
        gate.set()
        await settle()
        await queue.stop()
        assert [k for k, _ in work.runs] == [A, A]
        assert work.most_at_once == 1

    run(body)


def test_different_objects_run_in_parallel_up_to_the_concurrency() -> None:
    async def body() -> None:
        gate = asyncio.Event()
        work = Recorder(block=gate)
        queue = WorkQueue(work, concurrency=2)
        queue.start()
        for key in (A, B, ("ns", "c")):
            queue.enqueue(key)
        await settle()
        assert work.running == 2  # the third waits for a worker
        gate.set()
        await settle()
        await queue.stop()
        assert len(work.runs) == 3

    run(body)


@pytest.mark.parametrize("failure", [RuntimeError("boom"), RetryLater("409 conflict")])
def test_failures_are_retried_with_exponential_backoff_up_to_the_cap(failure: Exception) -> None:
    async def body() -> None:
        work = Recorder(failure, failure, failure, None)
        queue = WorkQueue(work, concurrency=1, base_backoff=0.01, max_backoff=0.03)
        queue.start()
        queue.enqueue(A)
        await work.runs_reach(4)
        await queue.stop()
        times = [t for _, t in work.runs]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(times) == 4
        assert gaps[0] >= 0.01 and gaps[1] >= 0.02 and gaps[2] >= 0.03  # 1x, 2x, then capped
        assert gaps[2] < 1

    run(body)


def test_expected_failures_are_logged_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        work = Recorder(RetryLater("the API server answered 429"), RuntimeError("a bug"))
        queue = WorkQueue(work, concurrency=1, base_backoff=0.01)
        queue.start()
        queue.enqueue(A)
        await work.runs_reach(2)
        await queue.stop()

    run(body)
    expected = [r for r in caplog.records if "429" in r.getMessage()]
    bug = [r for r in caplog.records if r.exc_info and "a bug" in str(r.exc_info[1])]
    assert expected and expected[0].exc_info is None
    assert bug


def test_the_earliest_wake_up_wins_and_forget_cancels_it() -> None:
    async def body() -> None:
        work = Recorder()
        queue = WorkQueue(work, concurrency=1)
        queue.start()
        loop = asyncio.get_running_loop()
        start = loop.time()
        queue.enqueue_after(A, 0.2)
        queue.enqueue_after(A, 0.05)  # earlier: replaces the later one
        queue.enqueue_after(A, 0.3)  # later: ignored
        queue.enqueue_after(B, 0.05)
        queue.forget(B)
        await asyncio.sleep(0.5)
        await queue.stop()
        assert [k for k, _ in work.runs] == [A]
        assert 0.05 <= work.runs[0][1] - start < 0.2

    run(body)


def test_a_run_asking_to_be_woken_runs_again_after_that_delay() -> None:
    async def body() -> None:
        work = Recorder(0.05, None)
        queue = WorkQueue(work, concurrency=1)
        queue.start()
        queue.enqueue(A)
        await asyncio.sleep(0.3)
        await queue.stop()
        assert len(work.runs) == 2
        assert work.runs[1][1] - work.runs[0][1] >= 0.05

    run(body)
