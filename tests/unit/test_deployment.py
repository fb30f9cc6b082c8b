"""The deployment files: docker-compose.yml runs every role with a healthcheck (and `docker compose config`
accepts it where a Compose client is installed; no engine is needed for that), the Dockerfile installs the locked
runtime dependencies only and leaves the sandboxes out, and the service starts without the sandboxes.

These machines have the Docker client but no engine, so the image is never built here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"
ROLES = {"postgres", "migrate", "web", "worker", "scheduler", "redis"}
ENV = {"QUALIFY_SECRET_KEY": "a-key", "POSTGRES_PASSWORD": "a-password"}


def _compose_client() -> list[str] | None:
    """`docker compose` (v2) when the plugin answers, else the standalone `docker-compose`, else None."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True,
                                                 timeout=30).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def _services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_docker_compose_config_accepts_the_file_and_requires_the_secrets(tmp_path: Path) -> None:
    client = _compose_client()
    if client is None:
        pytest.skip("no Compose client here (neither the `docker compose` plugin nor `docker-compose`)")
    base = {k: v for k, v in os.environ.items() if k not in ENV}
    run = [*client, "-f", str(COMPOSE), "--project-directory", str(ROOT)]

    accepted = subprocess.run([*run, "config", "-q"], env={**base, **ENV}, capture_output=True, text=True,
                              timeout=60)
    refused = subprocess.run([*run, "config", "-q"], env=base, capture_output=True, text=True, timeout=60)

    assert accepted.returncode == 0, accepted.stderr
    assert refused.returncode != 0 and "POSTGRES_PASSWORD" in refused.stderr + refused.stdout


def test_compose_runs_every_role_each_with_a_healthcheck_after_the_one_shot_migration() -> None:
    services = _services()

    assert set(services) == ROLES
    assert services["web"]["deploy"]["replicas"] == services["worker"]["deploy"]["replicas"] == 2
    assert services["redis"]["profiles"] == ["redis"]  # optional
    assert services["migrate"]["restart"] == "no" and services["migrate"]["healthcheck"] == {"disable": True}
    for role in ROLES - {"migrate"}:
        assert services[role]["healthcheck"]["test"], role
    for role in ("web", "worker", "scheduler"):
        assert services[role]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, role
        assert services[role]["environment"]["QUALIFY_EMBEDDED_WORKER"] == "0"


def test_the_dockerfile_installs_the_lock_only_and_leaves_the_sandboxes_out() -> None:
    text = DOCKERFILE.read_text()
    final = text[text.rindex("\nFROM "):]  # the image that ships

    assert re.search(r"pip install --require-hashes --no-deps -r \S*requirements\.lock", text)
    assert "pip install --no-deps ." in text  # the package itself, its dependencies from the lock only
    assert "[dev]" not in text and "rm -rf adapters/sandbox" in text
    assert "COPY --from=build /opt/qualify /opt/qualify" in final
    assert not re.search(r"^COPY (?!--from)", final, re.MULTILINE)  # no source (nor sandbox) in the final stage
    assert "HEALTHCHECK" in final and "/healthz" in final


def test_the_lock_pins_every_runtime_dependency_with_hashes_and_no_dev_tool() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {_name(line) for line in LOCK.read_text().splitlines() if re.match(r"^[a-z0-9]", line, re.I)}
    pins = [line for line in LOCK.read_text().splitlines() if "==" in line and not line.startswith("#")]

    assert {_name(r) for r in project["dependencies"]} <= pinned
    assert not {"pytest", "mypy", "ruff", "hypothesis", "schemathesis", "playwright"} & pinned
    assert pins and all(line.rstrip().endswith("\\") for line in pins)  # each pin is followed by its hashes
    assert LOCK.read_text().count("--hash=sha256:") >= len(pins)


def test_the_service_starts_without_the_sandboxes(tmp_path: Path) -> None:
    # As in the image: adapters.sandbox cannot be imported. The app, the worker, the scheduler and the CLI load.
    script = (
        "import sys; sys.modules['adapters.sandbox'] = None\n"
        "from service import create_app\n"
        "from service.cli import build_parser\n"
        "from service.config import Settings\n"
        "from service.jobs import scheduler, worker\n"
        "from service.services import retention\n"
        "build_parser()\n"
        f"create_app(Settings(instance_path={str(tmp_path)!r}, database_url='sqlite://').resolved())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if not k.startswith("QUALIFY_")})
    assert result.returncode == 0, result.stderr[-3000:]
