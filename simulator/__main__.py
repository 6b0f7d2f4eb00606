"""`python -m simulator COMMAND`: a bundled TimeMoto for developers and QA.

generate   a company's clockings over a date range, as JSON lines of deliveries
send       deliver JSON lines from standard input (or a file) to a running service
replay     deliver a file of JSON lines
proxy      the fault-injecting PostgreSQL proxy
expect     the monthly totals docs/contract.md §3 gives for a file of deliveries
check      compare those totals with `pointage_resume` in a database
simulate   all of it at once, with a database outage in the middle (`make simulate`)
export-report  the export TimeMoto's Cloud would give for a file of deliveries (a CSV)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from service.db.embedded import EmbeddedError
from simulator import expectations, export_report, generator, proxy, replay, simulate
from simulator.args import OneLineParser, at_least_one, day, ordered, output_file
from simulator.harness import Database


def run_generate(args: argparse.Namespace) -> int:
    first, last = generator.month_of(datetime.now(UTC).date())
    start: date = args.start or first
    end: date = args.end or last
    ordered(start, end, ("--from", "--to"))
    generated = generator.generate(args.employees, start, end, args.seed)
    if args.out:
        company = generator.write(generated, args.out)
        print(
            f"{len(generated.deliveries)} deliveries → {args.out}, employees → {company}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(generated.jsonl())
    return 0


def run_proxy(argv: list[str]) -> int:
    return proxy.main(argv)


def run_expect(args: argparse.Namespace) -> int:
    lines = args.file.read_text(encoding="utf-8").splitlines()
    for summary in expectations.expected_totals(lines):
        print(json.dumps(expectations.summary_json(summary)))
    return 0


def run_check(args: argparse.Namespace) -> int:
    if not args.database_url:
        print("no database: pass --database-url or set DATABASE_URL", file=sys.stderr)
        return 2
    database = Database(args.database_url)
    expected = expectations.expected_totals(args.file.read_text("utf-8").splitlines())
    found = expectations.differences(
        expected,
        expectations.database_totals(database),
        expectations.temps_travaille_mois(database),
        expectations.erp_totals(database),
    )
    for difference in found:
        print(difference.line())
    print(f"{len(expected)} user-months expected, {len(found)} difference(s)", file=sys.stderr)
    return 1 if found else 0


def parser() -> argparse.ArgumentParser:
    main = OneLineParser(
        prog="python -m simulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = main.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="a company's clockings as JSON lines")
    gen.add_argument("--employees", type=at_least_one, default=25)
    gen.add_argument(
        "--from", dest="start", type=day, help="first day, YYYY-MM-DD (default: this month's first)"
    )
    gen.add_argument(
        "--to", dest="end", type=day, help="last day, YYYY-MM-DD (default: this month's last)"
    )
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument(
        "--out",
        type=output_file,
        help="deliveries file (else stdout); employees go to *.company.json. Its folder must"
        " exist, unless it is inside the working directory",
    )
    gen.set_defaults(run=run_generate)

    for name, what in (("send", "JSON lines from stdin or FILE"), ("replay", "a JSON-lines FILE")):
        command = commands.add_parser(name, help=f"sign and deliver {what}")
        command.add_argument("file", nargs="?" if name == "send" else None, default="-")
        replay.add_arguments(command)
        command.set_defaults(run=replay.run)

    # Listed for --help only: main() hands every argument after `proxy` to the proxy's own parser.
    commands.add_parser("proxy", help="the fault-injecting PostgreSQL proxy")

    exp = commands.add_parser("expect", help="the monthly totals a file of deliveries gives")
    exp.add_argument("file", type=Path)
    exp.set_defaults(run=run_expect)

    chk = commands.add_parser("check", help="compare those totals with pointage_resume")
    chk.add_argument("file", type=Path)
    chk.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    chk.set_defaults(run=run_check)

    rep = commands.add_parser(
        "export-report", help="the export TimeMoto would give for a file of deliveries (CSV)"
    )
    export_report.add_arguments(rep)
    rep.set_defaults(run=export_report.run)

    sim = commands.add_parser("simulate", help="a month through the service, with an outage")
    simulate.add_arguments(sim)
    sim.set_defaults(run=simulate.simulate)
    return main


def main(argv: list[str] | None = None) -> int:
    """Missing files, unwritable folders and bad values end in one line, never a traceback."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["proxy"]:
            return run_proxy(argv[1:])
        args = parser().parse_args(argv)
        return int(args.run(args))
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"python -m simulator: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except EmbeddedError as exc:
        print(f"python -m simulator: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a date, a JSON line, a number that does not parse
        print(f"python -m simulator: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: what the command started is stopped by now
        print("python -m simulator: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
