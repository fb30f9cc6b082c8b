"""WSGI apps the gunicorn benchmarks serve: Qualify itself and a bare Flask JSON baseline."""

from __future__ import annotations

from flask import Flask, jsonify, request


def qualify_app() -> Flask:
    """Qualify with settings from the QUALIFY_* environment."""
    from service import create_app

    return create_app()


def bare_app() -> Flask:
    """The baseline: parse a JSON body, answer JSON; plus /healthz for readiness polling."""
    app = Flask(__name__)

    @app.post("/v1/gate/check")
    def check() -> object:
        data = request.get_json()
        return jsonify({"outcome": "allowed", "echo": len(data or {})})

    @app.post("/v1/webhooks/<int:cid>")
    def hook(cid: int) -> object:
        request.get_data()
        return jsonify({"received": 1, "stored": 1, "duplicates": 0})

    @app.get("/healthz")
    def health() -> object:
        return jsonify({"status": "ok"})

    return app
