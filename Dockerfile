# Production image. One image, three roles:
#   web:       docker run IMAGE                      (gunicorn, QUALIFY_EMBEDDED_WORKER=0)
#   worker:    docker run IMAGE qualify worker
#   scheduler: docker run IMAGE qualify scheduler    (run exactly one; PostgreSQL advisory lock)
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    QUALIFY_EMBEDDED_WORKER=0 QUALIFY_INSTANCE_PATH=/var/lib/qualify
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY adapters ./adapters
COPY schemas ./schemas
RUN pip install --no-cache-dir babel && pybabel compile -d service/web/translations \
    && pip install --no-cache-dir . && useradd --system --home /var/lib/qualify qualify \
    && mkdir -p /var/lib/qualify && chown qualify /var/lib/qualify
USER qualify
EXPOSE 8000
CMD ["sh", "-c", "qualify migrate && qualify serve --host 0.0.0.0 --port 8000 --workers ${WEB_WORKERS:-2}"]
