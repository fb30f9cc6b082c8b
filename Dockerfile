# syntax=docker/dockerfile:1
# Production image. One image, every role (docker-compose.yml runs them all; docs/deployment.md):
#   web:       docker run IMAGE                      (migrates, then gunicorn; QUALIFY_EMBEDDED_WORKER=0)
#   migrate:   docker run IMAGE qualify migrate      (compose runs it once, before the others)
#   worker:    docker run IMAGE qualify worker       (any number)
#   scheduler: docker run IMAGE qualify scheduler    (any number: one leads, on a PostgreSQL advisory lock)
# Runtime dependencies only, exactly as pinned (with their hashes) in requirements.lock (`make lock`). The CRM
# sandboxes (adapters/sandbox), the tests, the benchmarks and the docs stay out: the build stage installs the
# package into /opt/qualify without them, and the final stage copies only that.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/qualify/bin:$PATH
RUN python -m venv /opt/qualify
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes --no-deps -r /tmp/requirements.lock
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY schemas ./schemas
COPY adapters ./adapters
RUN rm -rf adapters/sandbox \
    && pybabel compile -d service/web/translations \
    && pip install --no-deps . \
    && test ! -e /opt/qualify/lib/python3.11/site-packages/adapters/sandbox

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/qualify/bin:$PATH \
    QUALIFY_EMBEDDED_WORKER=0 QUALIFY_INSTANCE_PATH=/var/lib/qualify
COPY --from=build /opt/qualify /opt/qualify
RUN useradd --system --home /var/lib/qualify qualify && mkdir -p /var/lib/qualify && chown qualify /var/lib/qualify
USER qualify
WORKDIR /var/lib/qualify
EXPOSE 8000
# The web role's liveness; docker-compose.yml gives the worker and the scheduler their own (their metrics port).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["sh", "-c", "qualify migrate && qualify serve --host 0.0.0.0 --port 8000 --workers ${WEB_WORKERS:-2}"]
