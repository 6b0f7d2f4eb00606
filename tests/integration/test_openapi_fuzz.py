"""schemathesis over the served OpenAPI document: no 5xx, and every answer conforms to it.

The webhook's bodies are signed here (a signing hook), so that they reach validation and the
database, not only the 401. The document is the one the service serves; the calls go to the
service in this process.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.domain.signature import HEADER, sign
from service.http import paths
from tests.support.webhook import SECRET

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SENT_AS_IS = ("params", "headers", "json")


def call(case: Any, client: httpx.Client) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
    if case.path == paths.WEBHOOK:
        document = kwargs.pop("json", None)
        body = kwargs.pop("data", None) or json.dumps(document).encode()
        if isinstance(body, str):
            body = body.encode()
        kwargs["data"] = body
        kwargs.setdefault("headers", {})[HEADER] = sign(body, SECRET)
    method, url, data = kwargs.pop("method"), kwargs.pop("url"), kwargs.pop("data", None)
    if cookies := kwargs.pop("cookies", None):  # as a header: httpx deprecates per-request cookies
        kwargs.setdefault("headers", {})["cookie"] = "; ".join(
            f"{k}={v}" for k, v in cookies.items()
        )
    unexpected = set(kwargs) - set(SENT_AS_IS)
    assert not unexpected, f"a request this test does not know how to send: {unexpected}"
    if isinstance(data, bytes | str):
        return client.request(method, url, content=data, **kwargs)
    return client.request(method, url, data=data, **kwargs)


def test_the_api_conforms_to_its_openapi_document(client: httpx.Client) -> None:
    schema = schemathesis.openapi.from_dict(client.get(f"{paths.OPENAPI}/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {paths.WEBHOOK, paths.VERIFIER, paths.READY}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def conforms(case: Any) -> None:
            case.validate_response(call(case, client), checks=CHECKS)

        conforms()
