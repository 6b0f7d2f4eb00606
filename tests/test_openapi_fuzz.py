"""schemathesis over the served OpenAPI document: no 5xx, and every answer conforms to it.

The webhook's bodies are signed here (a signing hook), so that they reach validation and the
database, not only the 401.
"""

from __future__ import annotations

import json
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import WEBHOOK_SECRET
from service.domain.signature import HEADER, sign
from service.http import paths
from simulator.harness import ServiceProcess

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def call(case: Any, base_url: str) -> requests.Response:
    kwargs = case.as_transport_kwargs(base_url=base_url)
    if case.path == paths.WEBHOOK:
        document = kwargs.pop("json", None)
        body = kwargs.pop("data", None) or json.dumps(document).encode()
        if isinstance(body, str):
            body = body.encode()
        kwargs["data"] = body
        kwargs.setdefault("headers", {})[HEADER] = sign(body, WEBHOOK_SECRET)
    return requests.request(**kwargs, timeout=30)


def test_the_api_conforms_to_its_openapi_document(service: ServiceProcess) -> None:
    schema = schemathesis.openapi.from_url(f"{service.base_url}{paths.OPENAPI}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {paths.WEBHOOK, paths.VERIFIER, paths.READY}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def conforms(case: Any) -> None:
            case.validate_response(call(case, service.base_url), checks=CHECKS)

        conforms()
