"""Command lines that answer a mistake in one line, and the argument types every simulator
command checks its values with (before it starts anything: a bad value never hangs a command)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr (and exit 2), not the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def _number(text: str, kind: Callable[[str], int | float]) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if isinstance(value, float) and value != value:  # NaN compares false with every bound
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    return value


def at_least_one(text: str) -> int:
    """A count: 1 or more."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a count: give 1 or more")
    return value


def zero_or_more(text: str) -> int:
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative: give 0 or more")
    return value


def positive_seconds(text: str) -> float:
    value = float(_number(text, float))
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be more than 0 (and finite)")
    return value


def seconds_or_zero(text: str) -> float:
    value = float(_number(text, float))
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more (and finite)")
    return value


def port(text: str) -> int:
    value = int(_number(text, int))
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not between 1 and 65535")
    return value


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def month(text: str) -> date:
    """`YYYY-MM`: the month's first day."""
    try:
        if len(text) != 7:
            raise ValueError
        return date.fromisoformat(f"{text}-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month (YYYY-MM)") from None


def service_url(text: str) -> str:
    """The service's base URL: http(s)://host[:port]."""
    parts = urlsplit(text)
    try:
        given_port = parts.port  # ValueError when out of range or not a number
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: its port is not between 1 and 65535") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL with a host")
    if given_port == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: its port is not between 1 and 65535")
    return text.rstrip("/")


def host_and_port(text: str) -> str:
    """`host:port` with the port between 1 and 65535."""
    host, colon, given = text.rpartition(":")
    if not colon or not host:
        raise argparse.ArgumentTypeError(f"{text!r} is not host:port")
    port(given)
    return text


def output_file(text: str) -> Path:
    """A file to write: its folder must exist, unless it is inside the working directory (then it
    is made there). Nothing is ever created above the working directory: make the folder first."""
    path = Path(text)
    folder = path.resolve().parent  # `..` and links resolved: where it would really go
    if folder.is_dir():
        return path
    if folder.exists():
        raise argparse.ArgumentTypeError(f"{folder} is not a folder")
    if not folder.is_relative_to(Path.cwd()):
        raise argparse.ArgumentTypeError(
            f"the folder {folder} does not exist (create it first: it is outside the working"
            " directory)"
        )
    return path


def ordered(first: date | None, last: date | None, names: tuple[str, str]) -> None:
    """Raise ValueError when a range ends before it begins."""
    if first is not None and last is not None and last < first:
        raise ValueError(f"{names[1]} {last} is before {names[0]} {first}")
