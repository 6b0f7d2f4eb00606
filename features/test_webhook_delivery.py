"""The scenarios of webhook_delivery.feature; the steps are in features/conftest.py."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("webhook_delivery.feature")
