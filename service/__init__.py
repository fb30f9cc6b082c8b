"""Qualify: blocks CRM deal stage moves until the customer portrait is filled."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from service.config import Settings


def create_app(settings: Settings | None = None, runtime: Any = None) -> Flask:
    """Build the Flask app: settings, runtime, error envelope, API blueprints. Starts no threads."""
    from service.runtime import build_runtime

    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None)
    configure_settings(app, settings)
    app.extensions["qualify"] = runtime or build_runtime(settings)
    configure_webhook_route(app)
    configure_proxy(app, settings)
    configure_errors_and_api(app)
    configure_security(app, settings)
    configure_observability(app)
    configure_web(app, settings)
    return app


def configure_settings(app: Flask, settings: Settings) -> None:
    """Flask and flask-smorest settings derived from ours."""
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_body_bytes,
        API_TITLE="Qualify",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        # The API reference at /docs, its Swagger UI files served by Qualify (service/web/api_docs.py); relative, so
        # a path prefix added by a proxy is kept. No validator badge: it would call validator.swagger.io.
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="docs/assets/",
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
        API_SPEC_OPTIONS={
            "info": {"description": "Qualification gate for CRM pipelines. See README.md."},
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
        JSON_SORT_KEYS=False,
    )
    app.config["QUALIFY_SETTINGS"] = settings
    if not settings.embedded and not settings.public_url:
        logging.getLogger("qualify.app").warning(
            "QUALIFY_PUBLIC_URL is not set: connections show no webhook_url until it is (in production it is never "
            "built from a request's Host header)")


def configure_webhook_route(app: Flask) -> None:
    """CRM deliveries answered in front of Flask's request machinery, inside ProxyFix (service/api/webhook_route.py)."""
    from service.api.webhook_route import configure_webhook_route as configure

    configure(app)


def configure_proxy(app: Flask, settings: Settings) -> None:
    """Trust X-Forwarded-* only when told to (so webhook signatures see the public URL)."""
    if settings.trust_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)  # type: ignore[method-assign]


def configure_security(app: Flask, settings: Settings) -> None:
    """Request ids, security headers and the failed-authentication throttle."""
    from service.api.security import configure_security as configure

    configure(app, settings)


def configure_observability(app: Flask) -> None:
    """Each request's id on its log lines; webhook answers and CRM calls counted; GET /metrics."""
    from service.api.metrics import configure_observability as configure

    configure(app)


def configure_web(app: Flask, settings: Settings) -> None:
    """The HTML pages (sign-in, home, admin): after the API's error handlers, which it extends for pages."""
    from service.web import configure_web as configure

    configure(app, settings)


def configure_errors_and_api(app: Flask) -> None:
    """Register the problem+json handlers and every blueprint."""
    from flask_smorest import Api

    from schemas.common import ProblemSchema

    class QualifyApi(Api):  # type: ignore[misc]
        """flask-smorest's Api whose registered error schema is the problem+json body we send."""

        ERROR_SCHEMA = ProblemSchema

    from service.api import (
        analytics,
        config,
        connections,
        fields,
        gates,
        health,
        keys,
        metrics,
        personas,
        records,
        reports,
        templates,
        webhooks,
        win_model,
    )
    from service.api.errors import configure_errors

    api = QualifyApi(app)
    for module in (fields, connections, records, templates, personas, reports, analytics, webhooks, health, metrics,
                   keys):
        api.register_blueprint(module.blp)
    api.register_blueprint(gates.blp)
    api.register_blueprint(gates.check_blp)
    api.register_blueprint(config.blp)
    api.register_blueprint(win_model.blp)
    configure_errors(app)
