"""ADMIN_PASSWORD and WORKING_TIMEZONE, read as the other settings are."""

from __future__ import annotations

import pytest

from service.settings import ConfigurationError, Settings


def test_admin_password_from_the_environment() -> None:
    assert Settings.from_env({"ADMIN_PASSWORD": "paie"}, None).admin_password == "paie"
    assert Settings.from_env({"ADMIN_PASSWORD": ""}, None).admin_password is None
    assert Settings.from_env({}, None).admin_password is None


def test_the_password_is_not_in_the_settings_repr() -> None:
    assert "paie-secrete" not in repr(Settings.from_env({"ADMIN_PASSWORD": "paie-secrete"}, None))


def test_working_timezone() -> None:
    assert Settings.from_env({}, None).working_timezone == "Africa/Tunis"
    paris = Settings.from_env({"WORKING_TIMEZONE": "Europe/Paris"}, None)
    assert paris.working_timezone == "Europe/Paris"
    for wrong in ("Mars/Olympus", "../etc/passwd"):
        with pytest.raises(ConfigurationError, match="WORKING_TIMEZONE"):
            Settings.from_env({"WORKING_TIMEZONE": wrong}, None)
