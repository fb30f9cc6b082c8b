"""The files of Swagger UI, served by Qualify itself under /docs/assets/ for the API reference at /docs
(flask-smorest's page, configured in service/__init__.py:configure_settings): nothing comes from a CDN. The
files are those of the swagger-ui-bundle package, as released."""

from __future__ import annotations

from flask import Blueprint
from swagger_ui_bundle import swagger_ui_path

ASSETS_PATH = "/docs/assets"
bp = Blueprint("api_docs", __name__, static_folder=swagger_ui_path, static_url_path=ASSETS_PATH)
