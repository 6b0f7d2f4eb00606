"""The deploy files (deploy/), read the way systemd and node read them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "timemoto-pointage.service"
ENV_EXAMPLE = DEPLOY / "timemoto-pointage.env.example"
ECOSYSTEM = DEPLOY / "ecosystem.config.js"
INSTALLED_AT = "/opt/timemoto-pointage"  # where deploy/README.md puts the checkout
FACTORY = "service.app:create_app"
PASSED_THROUGH = {"TIMEMOTO_WEBHOOK_SECRET", "DATABASE_URL"}


def read_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """systemd's INI dialect: [Section] and Key=Value lines; keys may repeat (Environment=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if header := re.fullmatch(r"\[(\w+)\]", line):
            current = sections.setdefault(header.group(1), [])
            continue
        key, equals, value = line.partition("=")
        assert current is not None and equals and re.fullmatch(r"[A-Za-z]+", key), (number, raw)
        current.append((key, value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [value for k, value in section if k == key]


def graceful_seconds(args: list[str]) -> int:
    return int(args[args.index("--timeout-graceful-shutdown") + 1])


def installed_here(unit_text: str) -> str:
    return unit_text.replace(INSTALLED_AT, str(ROOT))


def js_strings(source: str) -> list[str]:
    """A careful read of the JS without node: comments dropped, brackets balanced, and the
    string literals in order (what the pm2 file names)."""
    strings: list[str] = []
    stack: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    i = 0
    while i < len(source):
        char = source[i]
        if source.startswith("//", i):
            i = source.index("\n", i)
        elif source.startswith("/*", i):
            i = source.index("*/", i) + 2
        elif char in "\"'`":
            end = i + 1
            while source[end] != char:
                end += 2 if source[end] == "\\" else 1
            strings.append(source[i + 1 : end])
            i = end + 1
        else:
            if char in "([{":
                stack.append(char)
            elif char in ")]}":
                assert stack and stack.pop() == pairs[char], f"unbalanced {char!r} at {i}"
            i += 1
    assert stack == [], f"unclosed {stack}"
    return strings
