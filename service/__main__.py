"""`python -m service`: serve, apply or verify the schema."""

from __future__ import annotations

import argparse
import asyncio
import sys

import msgspec

from service.database import DatabaseTarget, resolve_database_url
from service.schema import apply_schema, check_schema, describe_error
from service.settings import ConfigurationError, Settings


def _target(settings: Settings) -> DatabaseTarget:
    return DatabaseTarget.from_url(resolve_database_url(settings), settings)


def serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    settings.require_secret()  # one line now rather than a traceback from the factory
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level=settings.log_level.lower(),
    )
    return 0


def db_apply(settings: Settings, _: argparse.Namespace) -> int:
    target = _target(settings)
    try:
        asyncio.run(apply_schema(target))
    except Exception as exc:  # noqa: BLE001 - a CLI says what failed in one line
        print(f"schema not applied to {target.label}: {describe_error(exc)}", file=sys.stderr)
        return 1
    print(f"schema applied to {target.label}")
    return 0


def db_verify(settings: Settings, _: argparse.Namespace) -> int:
    from service.verifier import SpoolState, VerifierAnswer

    report = asyncio.run(check_schema(_target(settings)))
    answer = VerifierAnswer(
        ok=report.ok,
        database=report.database,
        objects=report.objects,
        missing=report.missing,
        spool=SpoolState(pending=0),
    )
    print(msgspec.json.format(msgspec.json.encode(answer)).decode())
    return 0 if answer.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the HTTP service")
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    serve_parser.set_defaults(run=serve)
    db = commands.add_parser("db", help="the pointage schema").add_subparsers(
        dest="db", required=True
    )
    db.add_parser("apply", help="run sql/schema_pointage.sql").set_defaults(run=db_apply)
    db.add_parser("verify", help="check the schema; exit 0 only when ok").set_defaults(
        run=db_verify
    )
    args = parser.parse_args(argv)
    try:
        return int(args.run(Settings.from_env(), args))
    except ConfigurationError as exc:
        print(f"timemoto-pointage: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
