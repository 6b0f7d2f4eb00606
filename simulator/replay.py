"""`send` and `replay FILE`: deliver JSON lines of deliveries to a running service."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from simulator.args import (
    at_least_one,
    output_file,
    positive_seconds,
    seconds_or_zero,
    service_url,
    zero_or_more,
)
from simulator.generator import read_deliveries
from simulator.report import Progress, log_summary
from simulator.sender import DeliveryLog, DeliveryResult, deliver_all, ordered


@dataclass(frozen=True, slots=True)
class SendOptions:
    concurrency: int = 8
    rate: float | None = None  # deliveries a second, at most
    shuffle: bool = False
    seed: int | None = None
    retries: int = 5
    backoff: float = 0.5  # seconds before the first retry, doubling after each
    timeout: float = 10.0  # per attempt, as TimeMoto gives up on a slow endpoint

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SendOptions:
        return cls(
            args.concurrency, args.rate, args.shuffle, args.seed, args.retries, args.backoff,
            args.timeout,
        )  # fmt: skip


async def send(
    base_url: str,
    secret: str,
    deliveries: list[dict[str, Any]],
    options: SendOptions,
    on_result: Callable[[DeliveryResult], None] | None = None,
) -> DeliveryLog:
    limits = httpx.Limits(max_connections=options.concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=options.timeout, limits=limits
    ) as client:
        return await deliver_all(
            client,
            secret,
            ordered(deliveries, options.shuffle, options.seed),
            concurrency=options.concurrency,
            rate=options.rate,
            retries=options.retries,
            backoff=options.backoff,
            on_result=on_result,
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", type=service_url, default="http://127.0.0.1:8000", help="the service's base URL"
    )
    parser.add_argument(
        "--secret",
        default=os.environ.get("TIMEMOTO_WEBHOOK_SECRET", "").split(",")[0].strip() or None,
        help="webhook secret (default: the first of $TIMEMOTO_WEBHOOK_SECRET)",
    )
    parser.add_argument("--concurrency", type=at_least_one, default=8, help="deliveries in flight")
    parser.add_argument(
        "--rate", type=positive_seconds, default=None, help="at most N deliveries a second"
    )
    parser.add_argument("--shuffle", action="store_true", help="deliver in a random order")
    parser.add_argument("--seed", type=int, default=None, help="seed of --shuffle")
    parser.add_argument(
        "--retries", type=zero_or_more, default=5, help="retries after a failed attempt"
    )
    parser.add_argument(
        "--backoff", type=seconds_or_zero, default=0.5, help="first retry delay, seconds"
    )
    parser.add_argument(
        "--timeout", type=positive_seconds, default=10.0, help="seconds per attempt"
    )
    parser.add_argument(
        "--log", type=output_file, default=None, help="write the delivery log (JSON lines)"
    )


def run(args: argparse.Namespace) -> int:
    """Deliver every line of args.file ("-": standard input); 0 when all are Completed."""
    if not args.secret:
        print("no secret: pass --secret or set TIMEMOTO_WEBHOOK_SECRET", file=sys.stderr)
        return 2
    text = sys.stdin.read() if str(args.file) == "-" else Path(args.file).read_text("utf-8")
    deliveries = read_deliveries(text.splitlines())
    progress = Progress(len(deliveries))
    log = asyncio.run(
        send(args.url, args.secret, deliveries, SendOptions.from_args(args), progress.advance)
    )
    progress.finish()
    if args.log:
        args.log.write_text(log.jsonl(), encoding="utf-8")
    print(log_summary(log))
    return 0 if log.count("Failed") == 0 else 1
