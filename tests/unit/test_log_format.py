"""The log's formats and its redaction, without a service: JSON and text lines carry the
structured fields, and nothing secret survives (the service's own log is in system/test_logs.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

import pytest

from service.domain.signature import sign
from service.logs import (
    JsonFormatter,
    LineBatchingHandler,
    Redactor,
    TextFormatter,
    fields,
    secrets_of,
)

DB_PASSWORD = "db-pw-Zq81-never-logged"


def _record(message: str, **values: Any) -> logging.LogRecord:
    record = logging.LogRecord("service.http.webhook", logging.INFO, __file__, 1, message, (), None)
    record.__dict__.update(fields(**values))
    return record


def test_the_redactor_removes_secrets_urls_passwords_and_signatures() -> None:
    redact = Redactor(secrets_of(["s3cret-one", "x"], f"postgresql://erp:{DB_PASSWORD}@db/erp"))
    signature = sign(b"{}", "s3cret-one")
    text = (
        f"secret s3cret-one url postgresql+asyncpg://erp:{DB_PASSWORD}@db:5432/erp "
        f"password {DB_PASSWORD} amqp://u:hunter22@mq/ sig {signature} sha256={signature.upper()}"
    )
    redacted = redact(text)
    for secret in ("s3cret-one", DB_PASSWORD, "postgresql", "hunter22", signature, "sha256="):
        assert secret.lower() not in redacted.lower()
    assert "[database url]" in redacted
    assert "amqp://u:[redacted]@mq/" in redacted
    assert "secret" in redacted  # a one-letter "secret" is not removed from every word


def test_json_lines_carry_the_fields_and_text_lines_quote_them() -> None:
    redact = Redactor(["s3cret-one"])
    record = _record("webhook delivery", event_id="tm_1", user="u 1\nforged=yes", http_status=200)
    line = json.loads(JsonFormatter(redact).format(record))
    assert line["message"] == "webhook delivery"
    assert line["logger"] == "service.http.webhook"
    assert line["level"] == "INFO"
    assert line["ts"].endswith("Z")
    assert (line["event_id"], line["user"], line["http_status"]) == ("tm_1", "u 1\nforged=yes", 200)
    text = TextFormatter(redact).format(record)
    assert "\n" not in text  # a value cannot start a line of its own
    assert 'event_id=tm_1 user="u 1\\nforged=yes" http_status=200' in text


def test_a_bad_log_format_is_refused_in_one_line(tmp_path: Path) -> None:
    from service.settings import ConfigurationError, Settings

    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        Settings.from_env({"LOG_FORMAT": "xml"}, tmp_path / "absent.env")


def test_a_signed_id_cannot_forge_a_log_line() -> None:
    forged = "tm_x\n2026-11-30T00:00:00.000Z INFO service.webhook: webhook delivery answer=stored"
    record = logging.LogRecord(
        "service.webhook", logging.INFO, __file__, 1, "delivery %s refused", (forged,), None
    )
    record.fields = {"event_id": forged, "user": "a\x1b[2Jb"}
    text = TextFormatter(Redactor([])).format(record)
    assert "\n" not in text and "\x1b" not in text
    assert "tm_x\\n2026" in text  # escaped, still readable
    line = json.loads(JsonFormatter(Redactor([])).format(record))
    assert line["event_id"] == forged  # JSON keeps the value exactly, on one line


class Shouted(str):  # json.dumps wrote its characters, not its str()
    __slots__ = ()

    def __str__(self) -> str:
        return self.upper()


class Level(IntEnum):
    HIGH = 3


def _old_json_line(record: logging.LogRecord, redact: Redactor) -> str:
    """The JSON line as the formatter wrote it before it skipped the JSON round trip."""

    def values(value: Any) -> Any:
        if isinstance(value, str):
            return redact._redact(value)
        if isinstance(value, dict):
            return {k: values(v) for k, v in value.items()}
        if isinstance(value, list):
            return [values(v) for v in value]
        return value

    line = {
        "ts": datetime.fromtimestamp(record.created, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
        **record.fields,
    }
    return json.dumps(values(json.loads(json.dumps(line, default=str))), ensure_ascii=False)


def test_json_lines_are_what_the_json_round_trip_made() -> None:
    redact = Redactor(["s3cret-one-two"])
    record = _record(
        "delivery for Zoë",
        nothing=None,
        http_status=200,
        duration_ms=12.3,
        nested={"url": "postgresql://erp:pw@db/erp", 2: [1, "s3cret-one-two", None], True: 0.5},
        at=datetime(2026, 11, 30, 6, 58, 43, 127000, tzinfo=UTC),
        name="Zoë Ñandú 日本語",
        note="line one\nline two\u2028",
        pair=("password=hunter22", 1),
        colour=Shouted("red"),
        level=Level.HIGH,
        big=2**70,
        tiny=1e-7,
        raw=b"secret=hunter22",  # str() as `default=str` did, then redacted
    )
    line = JsonFormatter(redact).format(record)
    assert "\n" not in line
    assert json.loads(line) == json.loads(_old_json_line(record, redact))
    assert "Zoë Ñandú 日本語" in line  # not \\u-escaped
    assert '"duration_ms":12.3' in line
    assert "hunter22" not in line
    assert list(json.loads(line)) == list(json.loads(_old_json_line(record, redact)))  # key order


def test_a_float_that_is_not_a_number_becomes_null_so_the_line_stays_strict_json() -> None:
    line = JsonFormatter(Redactor([])).format(_record("x", ratio=float("nan"), up=float("inf")))

    def refuse(constant: str) -> None:
        raise ValueError(constant)

    parsed = json.loads(line, parse_constant=refuse)
    assert parsed["ratio"] is None and parsed["up"] is None


def test_a_lone_surrogate_is_written_as_the_json_module_wrote_it() -> None:
    record = _record("x", path="/caf\udce9")  # a byte that was not UTF-8, decoded surrogateescape
    line = JsonFormatter(Redactor([])).format(record)
    assert json.loads(line)["path"] == "/caf\udce9"


class CountingStream:
    """stdout as the handler sees it: what was written, and in how many writes."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        pass


def _batching(level: int = logging.INFO) -> tuple[LineBatchingHandler, CountingStream]:
    stream = CountingStream()
    handler = LineBatchingHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    return handler, stream


def _line(handler: LineBatchingHandler, message: str, level: int = logging.INFO) -> None:
    handler.handle(logging.LogRecord("t", level, __file__, 1, message, (), None))


def test_lines_of_one_loop_turn_are_written_together_in_order() -> None:
    handler, stream = _batching()

    async def deliveries() -> list[str]:
        for n in range(3):
            _line(handler, f"delivery {n}")
        before_the_turn_ends = list(stream.writes)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return before_the_turn_ends

    assert asyncio.run(deliveries()) == []
    assert stream.writes == ["INFO delivery 0\nINFO delivery 1\nINFO delivery 2\n"]


def test_a_warning_or_a_line_outside_the_loop_is_written_at_once_after_those_waiting() -> None:
    handler, stream = _batching()

    async def turn() -> list[str]:
        _line(handler, "stored")
        _line(handler, "database gone", logging.WARNING)
        return list(stream.writes)

    assert asyncio.run(turn()) == ["INFO stored\nWARNING database gone\n"]
    _line(handler, "from a thread")
    assert stream.writes[-1] == "INFO from a thread\n"


def test_lines_waiting_for_a_loop_that_stopped_are_written_by_the_next_line() -> None:
    handler, stream = _batching()
    loop = asyncio.new_event_loop()

    def last_callback() -> None:
        _line(handler, "the last line before the loop stops")
        loop.stop()  # callbacks scheduled now (the handler's write) never run

    loop.call_soon(last_callback)
    loop.run_forever()
    loop.close()
    assert stream.writes == []

    async def next_service_run() -> None:  # another loop (a restart in one process, a test)
        _line(handler, "next")
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(next_service_run())
    assert "".join(stream.writes) == "INFO the last line before the loop stops\nINFO next\n"
