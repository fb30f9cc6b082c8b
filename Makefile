# Qualify: `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck openapi bench demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/qualify migrate
	$(BIN)/qualify bootstrap
	$(BIN)/qualify serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/ruff check service adapters schemas tests bench
	$(BIN)/mypy
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/qualify demo

openapi:
	@test -x $(BIN)/flask || $(MAKE) venv
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	QUALIFY_INSTANCE_PATH="$$tmp" QUALIFY_DATABASE_URL="sqlite:///$$tmp/openapi.db" \
	QUALIFY_SECRET_KEY=$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	FLASK_APP=service:create_app $(BIN)/flask openapi write --format=yaml openapi.yaml
	@echo "wrote openapi.yaml"

bench: $(STAMP)
	$(BIN)/python -m bench.decide
	$(BIN)/python -m bench.gate_check
	$(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.sync --deals 20000
	$(BIN)/python -m bench.scoring
	$(BIN)/python -m bench.rescore --records 100000 --sqlite

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
