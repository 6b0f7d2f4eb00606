"""Settings: environment first, then `.env`."""

from pathlib import Path

import pytest

from service.settings import ConfigurationError, Settings


def test_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\nexport TIMEMOTO_WEBHOOK_SECRET='from-file'\n"
        'DATABASE_URL="postgresql://u:p@db/erp"\nDB_CONNECT_TIMEOUT=1.5\n'
    )
    settings = Settings.from_env({"TIMEMOTO_WEBHOOK_SECRET": "a,b"}, env_file)
    assert settings.webhook_secrets == ("a", "b")
    assert settings.database_url == "postgresql://u:p@db/erp"
    assert settings.connect_timeout == 1.5


def test_defaults_put_the_spool_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"DATA_DIR": "/srv/pointage"}, tmp_path / "absent.env")
    assert settings.database_url is None
    assert settings.spool_dir == Path("/srv/pointage/spool")
    assert settings.connect_timeout == 3.0


def test_missing_secret_is_refused_in_one_line(tmp_path: Path) -> None:
    settings = Settings.from_env({}, tmp_path / "absent.env")
    with pytest.raises(ConfigurationError, match="TIMEMOTO_WEBHOOK_SECRET") as refused:
        settings.require_secret()
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("value", ["soon", "0", "-1"])
def test_bad_timeouts_are_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match="DB_STATEMENT_TIMEOUT"):
        Settings.from_env({"DB_STATEMENT_TIMEOUT": value}, tmp_path / "absent.env")
