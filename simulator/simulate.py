"""`make simulate`: a month of a workshop's clockings through the real service, an outage of the
database in the middle, then the totals checked against the reference model.

Each run gets a fresh database (`simulate_<timestamp>`) and its own directory under
`.data/simulate/runs/`, so that reruns with the same seed give the same answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from service.domain.payroll import Month
from service.http import paths
from service.settings import Settings
from simulator import expectations, generator, payroll
from simulator.args import at_least_one, positive_seconds, seconds_or_zero
from simulator.args import month as month_argument
from simulator.export_report import render as export_report
from simulator.gap import choose as choose_gap
from simulator.harness import (
    Database,
    ServiceProcess,
    interrupted_by_sigterm,
    processes_naming,
    stop_postgres,
    wait_until,
)
from simulator.proxy import FaultProxy, proxied_url, upstream_of
from simulator.replay import SendOptions, send
from simulator.report import Progress, differences_text, hours_rows, hours_table, log_summary
from simulator.sender import DeliveryLog, DeliveryResult

PREFIX = "simulate_"
KEEP_RUNS = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--employees", type=at_least_one, default=25)
    parser.add_argument("--month", type=month_argument, default=None, help="YYYY-MM (default: now)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=at_least_one, default=8)
    parser.add_argument("--shuffle", action="store_true", help="deliver in a random order (--seed)")
    parser.add_argument(
        "--outage", type=seconds_or_zero, default=2.0, help="seconds of black-holed database"
    )
    parser.add_argument(
        "--keep-serving",
        action="store_true",
        help="after the run, keep the service up for its status page until Ctrl-C",
    )
    parser.add_argument(
        "--drain-deadline", type=positive_seconds, default=60.0, help="seconds to empty the spool"
    )


async def _admin(server_url: str, *statements: str) -> list[Any]:
    connection = await asyncpg.connect(server_url, timeout=10)
    try:
        return [await connection.fetch(sql) for sql in statements]
    finally:
        await connection.close()


def fresh_database(server_url: str, name: str, *, clean_previous: bool) -> str:
    """Create `name` on the server (dropping earlier simulation databases when asked)."""
    if clean_previous:
        rows = asyncio.run(
            _admin(server_url, f"SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'")
        )[0]
        drops = [f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)' for row in rows]
        if drops:
            asyncio.run(_admin(server_url, *drops))
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def database_for_run(settings: Settings, data_dir: Path, name: str) -> str:
    """A new database on DATABASE_URL's server, else on the embedded one under `data_dir`."""
    if settings.database_url:
        # Someone else's server: never drop anything there but what this run made.
        return fresh_database(settings.database_url, name, clean_previous=False)
    return fresh_database(embedded_server(data_dir), name, clean_previous=True)


def embedded_server(data_dir: Path) -> str:
    """The embedded server under `data_dir`, stopped when this process exits.

    The package stops only a server it has finished starting: interrupted while it starts (Ctrl-C,
    SIGTERM), the half-started server is stopped here, and a cluster whose initdb was cut short
    is removed (the next run would find it and fail to start it).
    """
    from service.db.embedded import server_home, start_embedded

    pgdata = server_home(data_dir) / "pgdata"
    fresh = not (pgdata / "PG_VERSION").exists()
    ours = not processes_naming(pgdata)  # else another run's: left to that run
    try:
        return start_embedded(data_dir)
    except BaseException:
        if ours:
            stop_postgres(pgdata)
            if fresh:
                shutil.rmtree(pgdata, ignore_errors=True)
        raise


def prepare_run_dir(data_dir: Path, stamp: str) -> Path:
    runs = data_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    for old in sorted(runs.iterdir())[:-KEEP_RUNS]:
        shutil.rmtree(old, ignore_errors=True)
    run_dir = runs / stamp
    run_dir.mkdir()
    return run_dir


def add_equipe(database: Database, company: generator.Company) -> int:
    """The ERP's own rows for the mapped employees (the unmapped ones clock all the same)."""
    mapped = [m.employee for m in company.staff if m.mapped]
    for employee in mapped:
        database.execute(
            "INSERT INTO equipe (nom, prenom, timemoto_user_id) VALUES ($1, $2, $3)",
            employee.last_name,
            employee.first_name,
            employee.user_id,
        )
    return len(mapped)


async def outage(
    proxy: FaultProxy, begin: asyncio.Event, progress: Progress, seconds: float
) -> None:
    """Once `begin` is set, black-hole the database for `seconds`, then let it recover."""
    if seconds <= 0:
        return
    await begin.wait()
    proxy.set_mode("blackhole")
    progress.note = f"database black-holed for {seconds:g} s"
    await asyncio.sleep(seconds)  # the outage's length is what is simulated, not a wait for a race
    proxy.set_mode("pass")
    proxy.cut()  # the partition ends as networks do: the silent connections are gone
    progress.note = "database back"


def verifier(base_url: str) -> dict[str, Any]:
    try:
        answer = httpx.get(f"{base_url}{paths.VERIFIER}", timeout=10).json()
    except (httpx.HTTPError, ValueError) as exc:
        return {"ok": False, "error": str(exc)}
    return answer if isinstance(answer, dict) else {"ok": False}


def pending(answer: dict[str, Any]) -> int:
    return int((answer.get("spool") or {}).get("pending", 0))


async def deliver_through_outage(
    service: ServiceProcess,
    secret: str,
    deliveries: list[dict[str, Any]],
    options: SendOptions,
    proxy: FaultProxy,
    outage_seconds: float,
) -> DeliveryLog:
    """Deliver everything with a progress bar; black-hole the database once 30 % is done."""
    progress = Progress(len(deliveries), stream=sys.stdout)
    begin = asyncio.Event()

    def advance(result: DeliveryResult) -> None:
        progress.advance(result)
        if progress.done >= 0.3 * progress.total:
            begin.set()

    async def sending() -> DeliveryLog:
        try:
            return await send(service.base_url, secret, deliveries, options, advance)
        finally:
            begin.set()  # never an outage left waiting for deliveries that will not come

    log, _ = await asyncio.gather(sending(), outage(proxy, begin, progress, outage_seconds))
    progress.finish()
    return log


def wait_for_drain(service: ServiceProcess, deadline: float) -> tuple[bool, float]:
    """Until the verifier is ok with an empty spool; whether it came, and after how long."""
    started = time.monotonic()
    drained = wait_until(
        lambda: (v := verifier(service.base_url)).get("ok") is True and pending(v) == 0,
        deadline,
        interval=0.2,
    )
    return drained, time.monotonic() - started


def simulate(args: argparse.Namespace) -> int:
    """Ctrl-C or SIGTERM at any point stops what the run started: the service, the proxy, and
    the embedded server (at exit, or at once when it was still starting)."""
    with interrupted_by_sigterm():
        return _simulate(args)


def _simulate(args: argparse.Namespace) -> int:
    wall = time.monotonic()
    settings = Settings.from_env()
    secret = settings.webhook_secrets[0] if settings.webhook_secrets else "simulator-secret"
    data_dir = (settings.data_dir / "simulate").resolve()
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S_%f")
    now = datetime.now(UTC)
    first, last = simulated_days(args.month or now.date(), now.date())

    database_url = database_for_run(settings, data_dir, PREFIX + stamp)
    database = Database(database_url)
    run_dir = prepare_run_dir(data_dir, stamp)
    generated = generator.generate(args.employees, first, last, args.seed)
    later = up_to(generated, now)
    deliveries_file = run_dir / "deliveries.jsonl"
    generator.write(generated, deliveries_file)
    unique = len({d["id"] for d in generated.deliveries})
    print(f"database: {make_url(database_url).database}   run: {run_dir}")
    print(
        f"company: {args.employees} employees (seed {args.seed}), {first:%B %Y}: "
        f"{len(generated.deliveries)} deliveries ({unique} distinct ids), "
        f"{len(generated.company.anomalies)} planned anomalies"
    )
    if last < generator.month_of(first)[1]:
        print(f"  up to today, {last:%d/%m}: no punch from the future")
    if later:
        what = "delivery" if later == 1 else "deliveries"
        print(f"  {later} {what} left out: TimeMoto would only send them after now")
    gap, gap_label = choose_gap(generated.deliveries, first, last)
    sent = [d for d in generated.deliveries if d["id"] not in gap]
    if gap:
        print(
            f"  {len(gap)} clockings of {gap_label} never sent: TimeMoto stops calling then, and "
            "its own export brings them back below (reconcile)"
        )

    options = SendOptions(
        args.concurrency, shuffle=args.shuffle, seed=args.seed, retries=8, backoff=0.5
    )
    admin_password = secrets.token_urlsafe(16)  # the payroll export's, for this run only
    with contextlib.ExitStack() as running:
        proxy = running.enter_context(FaultProxy(upstream_of(database_url)).start())
        env = {
            "TIMEMOTO_WEBHOOK_SECRET": secret,
            "ADMIN_PASSWORD": admin_password,
            "DATABASE_URL": proxied_url(database_url, proxy.port),
            "DATA_DIR": str(run_dir / "data"),
            "SPOOL_DIR": str(run_dir / "spool"),
            "DB_CONNECT_TIMEOUT": "1",  # an outage is noticed in a second, not three
        }
        service = running.enter_context(ServiceProcess(run_dir, env))
        wait_until(lambda: verifier(service.base_url).get("ok") is True, 30)
        print(f"service: {service.base_url} (log: {service.log_path})")
        print(f"equipe: {add_equipe(database, generated.company)} employees mapped")
        log = asyncio.run(
            deliver_through_outage(service, secret, sent, options, proxy, args.outage)
        )
        drained, drain_seconds = wait_for_drain(service, args.drain_deadline)
        story = reconcile_story(run_dir, database_url, deliveries_file, len(gap))
        answer = verifier(service.base_url)
        export = payroll.download(
            service, admin_password, Month(first.year, first.month), settings.data_dir
        )
        status_url, status_page = save_status_page(service, admin_password, run_dir)
        if not args.keep_serving:
            running.close()  # the service and the proxy stop here: the page below is saved
        print()
        print(log_summary(log))
        print(f"spool drained: {drained} ({drain_seconds:.1f} s after the last delivery)")
        ids = [d["id"] for d in generated.deliveries]
        stored = database.value(
            "SELECT count(*) FROM pointage_horodatage WHERE event_id = ANY($1::text[])", ids
        )
        print(f"pointage rows: {stored} of {unique - len(gap)} distinct deliveries sent")
        print(story.text)

        actual = expectations.database_totals(database)
        equipe = expectations.temps_travaille_mois(database)
        erp = expectations.erp_totals(database)
        expected = expectations.expected_totals(deliveries_file.read_text().splitlines())
        found = expectations.differences(expected, actual, equipe, erp)
        rows = hours_rows(generated.company, first, actual, expected, equipe, erp)
        print()
        print(hours_table(rows, first))
        export = payroll.check(export, Month(first.year, first.month), actual)
        print(export.line())
        print(differences_text(found))
        print()
        print("verifier:", json.dumps(answer))
        print()
        print(f"status page of this run, saved at its end: {status_page} (opens offline)")
        ok = (
            log.count("Failed") == 0
            and drained
            and stored == unique - len(gap)
            and story.ok
            and not found
            and all(row.ok for row in rows)
            and answer.get("ok") is True
            and export.ok
        )
        print(f"\n{'OK' if ok else 'FAILED'} in {time.monotonic() - wall:.1f} s")
        if args.keep_serving:
            serve_until_stopped(service, status_url, admin_password)
        else:
            print("the service has stopped; to browse it live, run with --keep-serving")
    return 0 if ok else 1


def serve_until_stopped(service: ServiceProcess, status_url: str, password: str) -> None:
    """--keep-serving: the service (and its database) stay up for the status page until Ctrl-C
    or SIGTERM; the interruption ends the run as it ended, not as a failure."""
    print(f"status page: {status_url} (user admin, password {password})")
    print("serving until Ctrl-C (then the service and the database stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        assert service.process is not None
        service.process.wait()


def up_to(generated: generator.Generated, now: datetime) -> int:
    """Leave out the deliveries TimeMoto would only send after `now` (this month's later days,
    a sortie a manager types in days later); how many."""
    before = len(generated.deliveries)
    generated.deliveries = [d for d in generated.deliveries if d["dispatchedAt"] <= now.timestamp()]
    return before - len(generated.deliveries)


def simulated_days(month: date, today: date) -> tuple[date, date]:
    """The month's days, up to today when it is this month; ValueError for a month to come."""
    first, last = generator.month_of(month)
    if first > today:
        raise ValueError(f"{first:%Y-%m} has not begun: simulate this month or one before")
    return first, min(last, today)


class Story:
    """What the reconciliation of the gap said, and whether it brought back exactly the gap."""

    def __init__(self, text: str, ok: bool) -> None:
        self.text, self.ok = text, ok


def reconcile_story(run_dir: Path, database_url: str, deliveries: Path, gap: int) -> Story:
    """TimeMoto's export of the whole month, then `python -m service reconcile` on it: the dry
    run lists the gap's clockings as missing, `--apply` brings them back, a second dry run finds
    nothing. Run as the operator would: a command of its own, on the database itself."""
    export = run_dir / "timemoto-export.csv"
    body = export_report(expectations.punches(deliveries.read_text().splitlines()))
    export.write_text(body, encoding="utf-8-sig", newline="")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(run_dir / "data"),
        "SPOOL_DIR": str(run_dir / "reconcile-spool"),
    }

    def reconcile(*extra: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "service", "reconcile", str(export), *extra],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            return f"reconcile failed: {done.stderr.strip()}"
        return done.stdout

    def totals(out: str) -> str:
        return next((line for line in out.splitlines() if line.startswith("totals:")), out)

    dry, applied, again = reconcile(), reconcile("--apply"), reconcile()
    ok = f"totals: {gap} missing" in dry and "totals: 0 missing" in again
    lines = [
        f"TimeMoto's export of the month: {export} ({body.count(chr(10)) - 1} clockings)",
        f"reconcile, dry run:  {totals(dry)}",
        f"reconcile --apply:   {applied.strip().splitlines()[-1] if applied.strip() else ''}",
        f"reconcile, again:    {totals(again)}",
    ]
    return Story("\n".join(lines), ok)


def save_status_page(service: ServiceProcess, password: str, run_dir: Path) -> tuple[str, Path]:
    """The operators' status page as the run left it (the service stops with the run)."""
    url = f"{service.base_url}{paths.STATUS}"
    page = run_dir / "status.html"
    answer = httpx.get(url, auth=("admin", password), timeout=30)
    page.write_text(answer.text if answer.status_code == 200 else f"HTTP {answer.status_code}")
    return url, page
