"""/schema works without internet: the page names only this service's own files, and they are
served (from the swagger-ui-py package)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from service.app import create_app
from service.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Any]]:
    tmp = tmp_path_factory.mktemp("schema")
    settings = Settings(
        webhook_secrets=("s",),
        database_url="postgresql://nobody@127.0.0.1:9/none",  # no database needed
        data_dir=tmp / "data",
        spool_dir=tmp / "spool",
        connect_timeout=0.5,
    )
    with TestClient(create_app(settings)) as running:
        yield running


def test_the_documentation_page_loads_nothing_from_another_host(client: TestClient[Any]) -> None:
    page = client.get("/schema")
    assert page.status_code == 200
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    assert links and all(link.startswith("/schema/") for link in links), links
    assert not re.search(r"https?://", page.text.split("<body>")[0])
    for link in links:
        asset = client.get(link)
        assert asset.status_code == 200, link
        assert len(asset.content) > 1000, link
    assert client.get("/schema/openapi.json").json()["paths"]


def test_the_bundle_is_a_swagger_ui_that_reads_openapi_3_1(client: TestClient[Any]) -> None:
    bundle = client.get("/schema/assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle
    assert re.search(r'"5\.\d+\.\d+"', bundle)  # Swagger UI 5 renders OpenAPI 3.1
