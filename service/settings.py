"""All configuration in one place: the environment, then a `.env` file (the environment wins)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from service.domain.signature import parse_secrets
from service.domain.working_hours import DEFAULT_WORKING_HOURS, WorkingHours, WorkingHoursError

MAX_BODY_BYTES = 256 * 1024
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigurationError(Exception):
    """A setting is missing or malformed; the message is one line an operator can act on."""


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a `.env` file as python-dotenv reads them (quotes, `export`, comments)."""
    if not path.is_file():
        return {}
    return {key: value for key, value in dotenv_values(path).items() if value is not None}


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    try:
        value = float(env.get(key, default))
    except ValueError as exc:
        raise ConfigurationError(f"{key} must be a number of seconds, not {env[key]!r}") from exc
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{key} must be a positive, finite number")
    return value


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    try:
        value = int(env.get(key) or default)
    except ValueError as exc:
        raise ConfigurationError(f"{key} must be a whole number, not {env[key]!r}") from exc
    if value <= 0:
        raise ConfigurationError(f"{key} must be positive")
    return value


_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$", re.DOTALL)
URL_SHAPE = "postgresql://user:password@host:5432/database"


def database_url_of(raw: str) -> str:
    """DATABASE_URL checked and written canonically, or ConfigurationError in one line.

    Any PostgreSQL URL (postgres://, postgresql://, postgresql+driver://). The password may hold
    any character, even an unencoded `@` or `/`: the credentials end at the last `@`. The message
    never repeats the URL (it may hold a password).
    """
    text = raw.strip()
    match = _SCHEME.match(text)
    if match is None:
        raise ConfigurationError(
            f"DATABASE_URL is not a PostgreSQL URL: it has no scheme (expected {URL_SHAPE})"
        )
    scheme = match["scheme"].lower()
    if scheme.split("+")[0] not in ("postgres", "postgresql"):
        raise ConfigurationError(
            f"DATABASE_URL is not a PostgreSQL URL: its scheme is {scheme}:// "
            f"(expected {URL_SHAPE})"
        )
    rest = match["rest"]
    userinfo, at, location = rest.rpartition("@")
    credentials = ""
    if at:
        user, colon, password = userinfo.partition(":")
        credentials = quote(unquote(user), safe="")
        if colon and password:
            credentials += ":" + quote(unquote(password), safe="")
        credentials += "@"
    url = f"postgresql://{credentials}{location}"
    try:
        urlsplit(url)  # hosts and ports, several of them, are libpq's grammar: service/db/url.py
    except ValueError as exc:
        raise ConfigurationError(f"DATABASE_URL is not a valid URL: {exc}") from None
    if any(c.isspace() for c in location):
        raise ConfigurationError("DATABASE_URL is not a valid URL: it contains spaces")
    return url


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _choice(env: Mapping[str, str], key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (env.get(key) or default).strip()
    if value.upper() not in {a.upper() for a in allowed}:
        raise ConfigurationError(f"{key} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _zone(env: Mapping[str, str], key: str, default: str) -> str:
    name = (env.get(key) or default).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f"{key} must be an IANA time zone such as {default}") from exc
    return name


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|min|m|h|j|d)?")
_UNIT_SECONDS = {None: 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "j": 86400, "d": 86400}


def _duration(env: Mapping[str, str], key: str, default: float) -> float:
    """Seconds, from `7200`, `2h`, `90min`, `30s` (or `1d`)."""
    raw = (env.get(key) or "").strip().lower()
    if not raw:
        return default
    match = _DURATION.fullmatch(raw)
    if match is None or float(match[1]) <= 0:
        raise ConfigurationError(f"{key} must be a duration such as 2h, 5min or 300, not {raw!r}")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def _working_hours(env: Mapping[str, str], zone: str) -> str:
    text = (env.get("WORKING_HOURS") or DEFAULT_WORKING_HOURS).strip()
    try:
        WorkingHours.parse(text, zone)
    except WorkingHoursError as exc:
        raise ConfigurationError(f"WORKING_HOURS: {exc}") from None
    return text


def _webhook_url(env: Mapping[str, str]) -> str | None:
    url = (env.get("ALERT_WEBHOOK_URL") or "").strip()
    if not url:
        return None
    if not re.match(r"^https?://[^\s/]+", url):
        # never repeat the URL: it is a credential (whoever has it may post to the channel)
        raise ConfigurationError("ALERT_WEBHOOK_URL must be an http:// or https:// URL")
    return url


def _networks(env: Mapping[str, str], key: str) -> tuple[str, ...]:
    """Addresses or networks separated by commas: `127.0.0.1, 10.0.0.0/8, ::1`, written as
    networks (`127.0.0.1/32`)."""
    networks = []
    for item in (env.get(key) or "").split(","):
        if not item.strip():
            continue
        try:
            networks.append(str(ip_network(item.strip(), strict=False)))
        except ValueError:
            raise ConfigurationError(
                f"{key} must list IP addresses or networks separated by commas "
                f"(e.g. 127.0.0.1,10.0.0.0/8), not {item.strip()!r}"
            ) from None
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class Settings:
    webhook_secrets: tuple[str, ...]
    database_url: str | None = None  # None: run on the embedded PostgreSQL under data_dir
    data_dir: Path = Path(".data")
    spool_dir: Path = Path(".data/spool")
    connect_timeout: float = 3.0
    pool_timeout: float = 2.0
    statement_timeout: float = 5.0
    schema_auto_apply: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    log_format: str = "text"
    log_level: str = "INFO"
    # The operators' paths (/api/export/…; docs/contract.md §6) answer only behind HTTP Basic
    # auth with the user `admin` and this password; None (ADMIN_PASSWORD unset or empty): they
    # answer 404.
    admin_password: str | None = field(default=None, repr=False)
    # The workshop's own zone: when a month is over (an export before then is provisional).
    working_timezone: str = "Africa/Tunis"
    quarantine_max_count: int = 10_000
    quarantine_max_bytes: int = 64 * 1024 * 1024
    probe_max_delay: float = 5.0
    keepalive_timeout: float = 5.0
    header_timeout: float = 10.0
    body_timeout: float = 10.0  # a request's body must be complete this long after its headers
    # The reverse proxies (nginx) whose X-Forwarded-For / Forwarded say who the client is; from any
    # other address those headers are ignored. Empty: the peer is the client.
    trusted_proxies: tuple[str, ...] = ()  # networks, e.g. 127.0.0.1/32
    limit_concurrency: int = 4096
    max_connections: int | None = None  # None: from the file descriptor limit
    # The operators' alerts (docs/contract.md §6): silence counted inside WORKING_HOURS only.
    working_hours: str = DEFAULT_WORKING_HOURS
    silence_alert_after: float = 2 * 3600.0  # seconds of working time without a delivery
    alert_after: float = 300.0  # seconds the database may be away, or a delivery wait, unalerted
    # Slack, Mattermost or Teams incoming webhook; a credential: never logged, never repr'd.
    alert_webhook_url: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
    ) -> Settings:
        env = read_env_file(env_file) if env_file else {}
        env.update(os.environ if environ is None else environ)
        data_dir = Path(env.get("DATA_DIR") or ".data")
        try:
            port = int(env.get("PORT") or 8000)
        except ValueError as exc:
            raise ConfigurationError(f"PORT must be an integer, not {env['PORT']!r}") from exc
        if not 0 < port < 65536:
            raise ConfigurationError(f"PORT must be from 1 to 65535, not {port}")
        return cls(
            webhook_secrets=parse_secrets(env.get("TIMEMOTO_WEBHOOK_SECRET", "")),
            database_url=database_url_of(url) if (url := env.get("DATABASE_URL")) else None,
            data_dir=data_dir,
            spool_dir=Path(env.get("SPOOL_DIR") or data_dir / "spool"),
            connect_timeout=_float(env, "DB_CONNECT_TIMEOUT", 3.0),
            pool_timeout=_float(env, "DB_POOL_TIMEOUT", 2.0),
            statement_timeout=_float(env, "DB_STATEMENT_TIMEOUT", 5.0),
            schema_auto_apply=_bool(env, "SCHEMA_AUTO_APPLY", True),
            host=env.get("HOST") or "127.0.0.1",
            port=port,
            log_format=_choice(env, "LOG_FORMAT", "text", LOG_FORMATS).lower(),
            log_level=_choice(env, "LOG_LEVEL", "INFO", LOG_LEVELS).upper(),
            admin_password=env.get("ADMIN_PASSWORD") or None,
            quarantine_max_count=_int(env, "QUARANTINE_MAX_COUNT", 10_000),
            quarantine_max_bytes=_int(env, "QUARANTINE_MAX_BYTES", 64 * 1024 * 1024),
            probe_max_delay=_float(env, "PROBE_MAX_DELAY", 5.0),
            keepalive_timeout=_float(env, "KEEPALIVE_TIMEOUT", 5.0),
            header_timeout=_float(env, "HEADER_TIMEOUT", 10.0),
            body_timeout=_float(env, "BODY_TIMEOUT", 10.0),
            trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
            limit_concurrency=_int(env, "LIMIT_CONCURRENCY", 4096),
            max_connections=(
                _int(env, "MAX_CONNECTIONS", 1) if env.get("MAX_CONNECTIONS") else None
            ),
            working_timezone=(zone := _zone(env, "WORKING_TIMEZONE", "Africa/Tunis")),
            working_hours=_working_hours(env, zone),
            silence_alert_after=_duration(env, "SILENCE_ALERT_AFTER", 2 * 3600.0),
            alert_after=_duration(env, "ALERT_AFTER", 300.0),
            alert_webhook_url=_webhook_url(env),
        )

    def require_secret(self) -> None:
        if not self.webhook_secrets:
            raise ConfigurationError(
                "TIMEMOTO_WEBHOOK_SECRET is not set: put the secret shown in TimeMoto's webhook "
                "settings in the environment or in .env (several may be separated by commas)."
            )
