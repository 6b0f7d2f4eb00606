"""`python -m bench [NAME ...]`: run every `bench/bench_*.py` module's `main()`, or those named."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import bench


def main(argv: list[str]) -> int:
    # A bench that runs the service in this process sets the root logger to INFO: the HTTP
    # clients of the benches after it would print a line per request.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    chosen = [name for name in names if not argv or name.removeprefix("bench_") in argv]
    failed = 0
    for name in chosen:
        print(f"== {name}", flush=True)
        failed += int(importlib.import_module(f"bench.{name}").main() or 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
