"""When neither the database nor the spool can take a delivery: 503, so TimeMoto retries."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from service.domain.signature import sign
from service.runtime import Runtime
from service.settings import Settings
from tests.support.service import free_port
from tests.support.webhook import SECRET, a_delivery


def test_no_database_and_no_spool_answers_503(tmp_path: Path) -> None:
    settings = Settings(
        webhook_secrets=(SECRET,),
        database_url=f"postgresql://erp@127.0.0.1:{free_port()}/erp",  # nothing listens
        spool_dir=tmp_path / "spool",
        connect_timeout=1,
    )
    body = json.dumps(a_delivery()).encode()

    async def go() -> tuple[int, str, bool, int, int]:
        runtime = await Runtime.start(settings)
        try:
            queued = await runtime.intake.receive(body, sign(body, SECRET))
            pending = runtime.spool.pending()
            runtime.spool.close()  # the disk gives out
            other = json.dumps(a_delivery()).encode()
            answer = await runtime.intake.receive(other, sign(other, SECRET))
            return (
                answer.http_status,
                answer.body.status,
                runtime.database_up,
                pending,
                queued.http_status,
            )
        finally:
            await runtime.recovery.stop()
            await runtime.database.engine.dispose()

    status, body_status, database_up, pending, first = asyncio.run(go())
    assert first == 202
    assert (status, body_status) == (503, "error")
    assert database_up is False
    assert pending == 1  # the first one, taken while the spool still could
