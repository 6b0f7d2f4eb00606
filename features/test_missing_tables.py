"""Scenarios of missing_tables.feature; the steps are in outage_steps.py."""

from __future__ import annotations

from pytest_bdd import scenarios

from features.outage_steps import *  # noqa: F403 - the steps, as pytest-bdd finds them

scenarios("missing_tables.feature")
