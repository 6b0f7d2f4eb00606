"""Logging: one format for our lines and uvicorn's, JSON in production, and nothing secret.

`LOG_FORMAT=json` writes one JSON object per line (journald, pm2 and log shippers read them);
`text` writes readable lines for a terminal. Structured fields travel in `extra={"fields": ...}`
and become JSON keys or `key=value` pairs. Every line passes through `Redactor` last, so a
secret, a signature, a password or a database URL cannot reach the log even by mistake.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import resource
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import msgspec

FIELDS = "fields"  # the `extra` key that carries a record's structured fields

# Whoever set these up before us (uvicorn's dictConfig) gets our handler instead.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
_MARK = "_timemoto_pointage"  # tags our handler so configuring twice replaces it

_URL_END = r"[^\s\"'<>]"  # a URL in a line ends at a space or a quote (JSON, repr)
_DATABASE_URL = re.compile(rf"\bpostgres(?:ql)?(?:\+\w+)?://{_URL_END}*", re.IGNORECASE)
# The credentials of a URL end at its last `@`: a password may hold `@`, `/` or `:` unencoded.
_URL_PASSWORD = re.compile(rf"(\b[a-z][a-z0-9+.-]*://[^:/@\s\"'<>]*:){_URL_END}+@", re.IGNORECASE)
_SECRET_PAIR = re.compile(
    r"((?:password|passwd|pgpassword|secret)[\"']?\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;&\"'}]+)",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"\b(?:sha256=)?[0-9a-fA-F]{64}\b")
# What every match of the four patterns above contains: `://` (both URL patterns), a word of
# _SECRET_PAIR (`pgpassword` contains `password`) or 64 hex digits. The words match as in
# _SECRET_PAIR, with re's IGNORECASE folding (`ſ` is an `s` to it, not to str.lower()), but
# each starts with a literal letter in every case that folding knows: re then tries them only
# at those letters (an IGNORECASE pattern is tried at every position, several times slower).
_MAY_MATCH = [
    "://",
    *(f"{first}(?i:assw(?:or)?d)" for first in "pP"),
    *(f"{first}(?i:ecret)" for first in "sS\u017f"),  # ſ, LATIN SMALL LETTER LONG S
]
_DIGEST = "[0-9a-fA-F]{64}"
REDACTED = "[redacted]"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def fields(**values: Any) -> dict[str, dict[str, Any]]:
    """`log.info("...", extra=fields(event_id=..., ...))`."""
    return {FIELDS: values}


def looks_secret(secret: str) -> bool:
    """Can this secret be removed wherever it appears without blanking ordinary words?

    A password like `postgres` or `pointage` is also a word the log uses: it is removed only
    where it stands as a secret (in a URL, after `password=`). One with a digit or a sign, or
    long, is removed everywhere.
    """
    return len(secret) >= 16 or (len(secret) >= 6 and not secret.isalpha())


class Redactor:
    """Removes secrets where they appear as secrets: URL passwords (any characters), database
    URLs, `password=`/`secret=` pairs, HMAC-SHA256 hex digests, and the given secrets that
    `looks_secret` (the others only in those places)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so that a secret containing another one is removed whole.
        self._secrets = sorted({s for s in secrets if looks_secret(s)}, key=len, reverse=True)
        # Can anything in `_redact` match? A secret (as it is), or what each pattern must
        # contain. Without the digest for strings under 64 characters, which cannot hold one:
        # its hex alternative, possible at any digit, is what keeps re from skipping ahead.
        may_match = [*map(re.escape, self._secrets), *_MAY_MATCH]
        self._may_redact_short = re.compile("|".join(may_match))
        self._may_redact = re.compile("|".join([*may_match, _DIGEST]))

    def __call__(self, text: str) -> str:
        # Most strings (ids, words, numbers) hold nothing to redact: one search tells.
        guard = self._may_redact if len(text) >= 64 else self._may_redact_short
        if guard.search(text) is None:
            return text
        return self._redact(text)

    def _redact(self, text: str) -> str:
        """Every substitution, unguarded (`__call__` skips it when none of them can match)."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _DATABASE_URL.sub("[database url]", text)
        text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
        text = _SECRET_PAIR.sub(rf"\1{REDACTED}", text)
        return _SIGNATURE.sub("[signature]", text)


def secrets_of(webhook_secrets: Iterable[str], database_url: str | None) -> list[str]:
    """What must never be logged: the webhook secrets and the database password."""
    secrets = list(webhook_secrets)
    if database_url:
        try:
            from service.settings import database_url_of  # the lenient parse: `@` in a password

            # urlsplit, not make_url: several hosts (h1:5432,h2:5432) are libpq's grammar.
            password = urlsplit(database_url_of(database_url)).password
            password = unquote(password) if password else None
        except Exception:  # noqa: BLE001 - an unparsable URL still gets the URL patterns
            password = None
        if password:
            secrets.append(str(password))
    return secrets


def _timestamp(record: logging.LogRecord) -> str:
    instant = datetime.fromtimestamp(record.created, UTC)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _structured(record: logging.LogRecord) -> Mapping[str, Any]:
    values = getattr(record, FIELDS, None)
    return values if isinstance(values, Mapping) else {}


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_structured(record),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        # Each value is redacted before encoding, so a pattern never eats into the JSON around it.
        redacted = _json_values(line, self._redact)
        try:
            # 8x faster than json.dumps; NaN and infinities become null (json wrote NaN: not JSON).
            return msgspec.json.encode(redacted).decode()  # UTF-8 as is, control characters escaped
        except UnicodeEncodeError:  # a lone surrogate, which UTF-8 cannot hold: written as before
            return json.dumps(redacted, ensure_ascii=False)


def _json_values(value: Any, redact: Redactor) -> Any:
    """`value` as json.dumps(default=str) read it, every string in it redacted, in the plain
    types msgspec encodes (not their subclasses)."""
    kind = type(value)
    if kind is str:
        return redact(value)
    if value is None or kind is int or kind is float or kind is bool:
        return value
    if isinstance(value, Mapping):  # keys kept, not redacted (as before)
        return {
            k if type(k) is str else _json_key(k): _json_values(v, redact) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_json_values(v, redact) for v in value]
    # Subclasses (enums...) as json.dumps wrote them: their characters or their number.
    if isinstance(value, str):
        return redact(str.__str__(value))
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    return redact(str(value))  # what `default=str` did: a datetime, a UUID, bytes...


def _json_key(key: object) -> str:
    """A mapping's key as json.dumps spelled it (`1`, `true`, `null`); any other kind, which it
    refused (losing the line), as str()."""
    if isinstance(key, str):
        return str.__str__(key)
    if key is None or isinstance(key, int | float):
        return json.dumps(key)
    return str(key)


class TextFormatter(logging.Formatter):
    """`2026-11-30T06:58:43.127Z INFO service.http.webhook: message key=value ...`"""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        message = escape_controls(record.getMessage())  # a signed id may hold a newline
        parts = [f"{_timestamp(record)} {record.levelname} {record.name}: {message}"]
        parts += [f"{key}={_text_value(value)}" for key, value in _structured(record).items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return self._redact(line)


def escape_controls(text: str) -> str:
    """Control characters as escapes (`\\n`, `\\x1b`): one record stays one line."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


def _text_value(value: Any) -> str:
    """Bare when it is one plain word, else JSON-quoted (no value can forge a new field or line)."""
    text = "-" if value is None else str(value)
    if text and re.fullmatch(r"[\w.:/@+-]+", text):
        return text
    return escape_controls(json.dumps(text, ensure_ascii=False))


class LineBatchingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes the lines of one turn of the event loop together.

    One write (a system call) per line was a sixth of the service's CPU per delivery under load
    (`bench webhook`'s profile). A line logged on the event loop waits for the end of the loop's
    current turn, microseconds; a WARNING or worse, a line from another thread, and `flush()`
    (at exit) write everything waiting at once, in order.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._flush_on: asyncio.AbstractEventLoop | None = None  # the loop due to write them

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 - logging's own convention: report, never raise
            self.handleError(record)
            return
        loop = _running_loop()
        with self.lock:  # type: ignore[union-attr]  # always set by Handler.__init__
            self._pending.append(line)
            # Waits only for the loop already due to write (not one that may stop first).
            if loop is not None and record.levelno < logging.WARNING:
                if self._flush_on is None:
                    self._flush_on = loop
                    loop.call_soon(self.flush)
                    return
                if self._flush_on is loop:
                    return
            self._write_pending(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending(None)

    def _write_pending(self, record: logging.LogRecord | None) -> None:
        self._flush_on = None
        if not self._pending:
            return
        text, self._pending = "".join(self._pending), []
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:  # noqa: BLE001 - a closed or full stdout must not stop deliveries
            if record is not None:
                self.handleError(record)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class SkipPaths(logging.Filter):
    """Drops uvicorn access lines for paths that log a better line of their own."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self._prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access record args: (client, method, path, http_version, status)
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            return not args[2].startswith(self._prefixes)
        return True


class AcceptErrorsOncePerMinute(logging.Filter):
    """asyncio's "socket.accept() out of system resource" (EMFILE), at most once a minute.

    asyncio logs it with a traceback every time it retries accepting (once a second per
    listener): a log that grows by megabytes a minute. The first of each minute becomes one line
    saying what it means and what to do; the others are counted and dropped.
    """

    interval = 60.0

    def __init__(self) -> None:
        super().__init__()
        self._last: float | None = None
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("socket.accept() out of system resource"):
            return True
        now = record.created
        if self._last is not None and now - self._last < self.interval:
            self._dropped += 1
            return False
        dropped, self._dropped, self._last = self._dropped, 0, now
        record.msg = (
            "out of file descriptors: new connections cannot be accepted (accept(): too many "
            "open files; limit %d). Raise LimitNOFILE, or lower MAX_CONNECTIONS / "
            "HEADER_TIMEOUT. Logged at most once a minute; %d such errors since the last line."
        )
        record.args = (resource.getrlimit(resource.RLIMIT_NOFILE)[0], dropped)
        record.exc_info = None
        record.exc_text = None
        return True


def configure_logging(
    level: str, log_format: str, secrets: Iterable[str], skip_access_paths: Iterable[str] = ()
) -> None:
    """Install our handler on the root logger and route uvicorn's loggers through it."""
    # What no line of ours shows, not gathered for every record (the logging HOWTO's
    # "Optimization"): the caller's file and line, the thread, the process.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    redact = Redactor(secrets)
    handler = LineBatchingHandler(sys.stdout)  # stdout: pm2 would show stderr as errors
    handler.setFormatter(JsonFormatter(redact) if log_format == "json" else TextFormatter(redact))
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    asyncio_logger = logging.getLogger("asyncio")
    if not any(isinstance(f, AcceptErrorsOncePerMinute) for f in asyncio_logger.filters):
        asyncio_logger.addFilter(AcceptErrorsOncePerMinute())
    access = logging.getLogger("uvicorn.access")
    for old_filter in [f for f in access.filters if isinstance(f, SkipPaths)]:
        access.removeFilter(old_filter)
    if prefixes := tuple(skip_access_paths):
        access.addFilter(SkipPaths(*prefixes))
