"""Scenarios of database_timeout.feature; the steps are in outage_steps.py."""

from __future__ import annotations

from pytest_bdd import scenarios

from features.outage_steps import *  # noqa: F403 - the steps, as pytest-bdd finds them

scenarios("database_timeout.feature")
