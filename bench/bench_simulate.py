"""`make simulate`'s own run (service start, a month for 25 employees, the outage, the drain, the
checks) must stay under two minutes; its delivery log gives the deliveries a second."""

from __future__ import annotations

import time

from simulator.__main__ import main as simulator

TARGET_SECONDS = 120.0


def main() -> int:
    started = time.monotonic()
    status = simulator(["simulate"])
    seconds = time.monotonic() - started
    verdict = "ok" if seconds < TARGET_SECONDS else "TOO SLOW"
    print(f"simulate: {seconds:.1f} s (target < {TARGET_SECONDS:.0f} s): {verdict}")
    return 1 if status or seconds >= TARGET_SECONDS else 0
