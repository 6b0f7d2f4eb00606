"""All configuration in one place: the environment, then a `.env` file (the environment wins)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from service.domain.signature import parse_secrets

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
    if value <= 0:
        raise ConfigurationError(f"{key} must be positive")
    return value


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
        return cls(
            webhook_secrets=parse_secrets(env.get("TIMEMOTO_WEBHOOK_SECRET", "")),
            database_url=env.get("DATABASE_URL") or None,
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
        )

    def require_secret(self) -> None:
        if not self.webhook_secrets:
            raise ConfigurationError(
                "TIMEMOTO_WEBHOOK_SECRET is not set: put the secret shown in TimeMoto's webhook "
                "settings in the environment or in .env (several may be separated by commas)."
            )
