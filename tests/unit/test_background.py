"""Stopping a background task ends, whatever the task does with its cancellation."""

from __future__ import annotations

import asyncio
import logging
import math

import pytest

from service.background import stop_task


class Stubborn:
    """A loop that goes round again after its first `swallow` cancellations, as a loop around
    Python 3.11's `asyncio.wait_for` does when a cancellation meets its inner wait's end."""

    def __init__(self, swallow: float) -> None:
        self.swallow = swallow
        self.ended = False

    async def run(self) -> None:
        swallowed = 0
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed >= self.swallow:
                    self.ended = True
                    raise
                swallowed += 1


def test_a_task_that_swallows_a_cancellation_is_cancelled_again_until_it_ends() -> None:
    async def scenario() -> tuple[bool, bool]:
        loop = Stubborn(swallow=2)
        task = asyncio.create_task(loop.run())
        await asyncio.sleep(0)  # let it start
        await stop_task(task, "the test loop", deadline=10)
        stopped = task.cancelled(), loop.ended
        loop.swallow = 0  # the test's own clean-up, whatever happened
        task.cancel()
        await asyncio.wait({task})
        return stopped

    assert asyncio.run(scenario()) == (True, True)


def test_a_task_that_never_stops_is_left_after_the_deadline_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> bool:
        loop = Stubborn(swallow=math.inf)
        task = asyncio.create_task(loop.run())
        await asyncio.sleep(0)
        await stop_task(task, "the stubborn loop", deadline=0.3)
        running = not task.done()
        loop.swallow = 0  # the test's own clean-up
        task.cancel()
        await asyncio.wait({task})
        return running

    with caplog.at_level(logging.WARNING, logger="service.background"):
        assert asyncio.run(scenario()) is True
    lines = [r.getMessage() for r in caplog.records if r.name == "service.background"]
    assert lines == ["the stubborn loop did not stop within 0.3 s of being cancelled; left running"]


def test_a_task_that_failed_is_collected_quietly() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    async def scenario() -> bool:
        failed = asyncio.create_task(fails())
        await asyncio.sleep(0)
        await stop_task(failed, "a failed task")
        await stop_task(None, "no task")
        return failed.done()

    assert asyncio.run(scenario()) is True  # and stop_task raised nothing
