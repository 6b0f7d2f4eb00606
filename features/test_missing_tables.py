"""The scenarios of missing_tables.feature; the steps are in features/conftest.py."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("missing_tables.feature")
