"""`python -m simulator simulate`: a day of punches delivered to a real service, then checked."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from service.database import resolve_database_url
from service.settings import Settings
from simulator.company import EMPLOYEES, a_day_of_punches
from simulator.harness import Database, ServiceProcess
from simulator.sender import Sender


async def deliver_all(base_url: str, secret: str, deliveries: list[dict[str, Any]]) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        sender = Sender(client, secret)
        results = [await sender.deliver(delivery) for delivery in deliveries]
    for result in results:
        print(f"  {result.event_id}  {result.log_status:9}  {result.answer.get('status')}")
    return [result.log_status for result in results]


def simulate(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    secret = settings.webhook_secrets[0] if settings.webhook_secrets else "simulator-secret"
    data_dir = settings.data_dir.resolve()
    database_url = resolve_database_url(settings)
    env = {"TIMEMOTO_WEBHOOK_SECRET": secret, "DATABASE_URL": database_url}
    env["SPOOL_DIR"] = str(data_dir / "simulate" / "spool")
    day = datetime.combine(datetime.now().date(), datetime.min.time())
    deliveries = a_day_of_punches(day)
    print(f"delivering {len(deliveries)} punches for {len(EMPLOYEES)} employees on {day:%Y-%m-%d}")
    with ServiceProcess(Path(data_dir / "simulate"), env) as service:
        statuses = asyncio.run(deliver_all(service.base_url, secret, deliveries))
        verifier = httpx.get(f"{service.base_url}/api/database/verifier-tables-pointage").json()
    ids = [delivery["id"] for delivery in deliveries]
    stored = Database(database_url).value(
        "SELECT count(*) FROM pointage WHERE event_id = ANY($1::text[])", ids
    )
    print(f"completed: {statuses.count('Completed')}/{len(statuses)}, stored in pointage: {stored}")
    print(json.dumps(verifier, indent=2))
    return 0 if verifier.get("ok") and stored == len(deliveries) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("simulate", help="run the service and deliver a day").set_defaults(
        run=simulate
    )
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
