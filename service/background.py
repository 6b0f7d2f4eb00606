"""How the service's background tasks (the recovery loop, the alert monitor, the notifier) are
stopped: one way, with a deadline.

Cancelling a task once and awaiting it can wait forever. In Python 3.11 `asyncio.wait_for`
swallows a cancellation that arrives as the awaitable it wraps completes (CPython gh-86296, fixed
in 3.12), and these loops wait on an event with `wait_for`: the cancelled loop goes round again,
and the shutdown waits on it. Seen once in the test suite under load: an in-process service
stopping while its database was black-holed hung for over a quarter of an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

__all__ = ["stop_task"]

log = logging.getLogger(__name__)

RECANCEL_EVERY = 0.5  # seconds between cancellations of a task that is still running


async def stop_task(task: asyncio.Task[Any] | None, name: str, deadline: float = 10.0) -> None:
    """Cancel `task` until it ends, for `deadline` seconds at the most (then it is left, and
    logged once). Whatever it ended with is retrieved, so asyncio never logs it as unseen."""
    if task is None:
        return
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline
    while not task.done():
        left = give_up - loop.time()
        if left <= 0:
            log.warning(
                "%s did not stop within %g s of being cancelled; left running", name, deadline
            )
            return
        task.cancel()
        await asyncio.wait({task}, timeout=min(RECANCEL_EVERY, left))
    if not task.cancelled():
        with contextlib.suppress(Exception):
            task.exception()
