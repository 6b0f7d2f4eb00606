"""Swagger UI's JavaScript, CSS and icons for `/schema`, served from the package `swagger-ui-py`
(a dependency that ships them): the API documentation works without internet access."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from litestar.router import Router
from litestar.static_files import create_static_files_router

from service.http.openapi import DOCS_ASSETS


def _assets_dir() -> Path:
    """swagger-ui-py's static folder, found without importing it (its import is heavy)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package swagger-ui-py is missing: pip install -e .")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


ASSETS_DIR = _assets_dir()
SERVED = (
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
)


def docs_assets_router() -> Router:
    return create_static_files_router(
        path=DOCS_ASSETS,
        directories=[ASSETS_DIR],
        include_in_schema=False,
        cache_control=None,
        name="docs-assets",
    )
