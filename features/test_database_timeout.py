"""The scenarios of database_timeout.feature; the steps are in features/conftest.py."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("database_timeout.feature")
