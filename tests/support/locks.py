"""Making the service's inserts wait, deterministically: a lock held on `pointage`."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import asyncpg


@contextlib.contextmanager
def inserts_wait(url: str) -> Iterator[None]:
    """Hold a lock that makes every insert into `pointage` wait until the block ends."""
    locked, release = threading.Event(), threading.Event()

    async def hold() -> None:
        connection = await asyncpg.connect(url, timeout=10)
        try:
            async with connection.transaction():
                await connection.execute(
                    "LOCK TABLE pointage_horodatage IN SHARE ROW EXCLUSIVE MODE"
                )
                locked.set()
                await asyncio.to_thread(release.wait)
        finally:
            await connection.close()

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    try:
        assert locked.wait(30), "could not lock pointage"
        yield
    finally:
        release.set()
        holder.join(30)
