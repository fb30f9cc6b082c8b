# Qualify: `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# The pages' message catalogs: the .po files are in git, the compiled .mo files are built here.
TRANSLATIONS := service/web/translations
CATALOGS := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint typecheck openapi bench demo clean chromium messages lock

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps 'lifetimes==0.11.3'  # its CDNOW_master.txt is test data; never imported
	$(BIN)/pybabel compile -d $(TRANSLATIONS)
	touch $(STAMP)

# A catalog edited after installation is compiled again before the service or the tests run.
$(COMPILED): %.mo: %.po $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@

# Debian's Chromium for the browser tests (we run as root). Never `playwright install`: it downloads a
# browser build of its own, which fails here.
chromium:
	@test -x $(CHROMIUM) || command -v chromium >/dev/null || \
	  (apt-get update && apt-get install -y chromium)

# Extract the pages' strings and add the new ones to every catalog (then translate them in the .po files).
messages: $(STAMP)
	@tmp=$$(mktemp) && trap 'rm -f "$$tmp"' EXIT && \
	$(BIN)/pybabel extract -F service/web/babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
	  -o "$$tmp" service/web && \
	$(BIN)/pybabel update -i "$$tmp" -d $(TRANSLATIONS) --no-fuzzy-matching --width 100

venv: $(STAMP)

run: $(STAMP) $(COMPILED)
	$(BIN)/qualify migrate
	$(BIN)/qualify bootstrap
	$(BIN)/qualify serve --host $(HOST) --port $(PORT)

# Two test processes (pytest-xdist; every session has its own PostgreSQL schema and SQLite file), then alone
# the one test that restarts PostgreSQL, which would cut the other process's connections.
test: $(STAMP) $(COMPILED) chromium
	$(BIN)/ruff check service adapters schemas tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -m 'not pg_restart'
	$(BIN)/pytest -m pg_restart

demo: $(STAMP) $(COMPILED)
	$(BIN)/qualify demo

openapi:
	@test -x $(BIN)/flask || $(MAKE) venv
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	QUALIFY_INSTANCE_PATH="$$tmp" QUALIFY_DATABASE_URL="sqlite:///$$tmp/openapi.db" \
	QUALIFY_SECRET_KEY=$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	FLASK_APP=service:create_app $(BIN)/flask openapi write --format=yaml openapi.yaml
	@echo "wrote openapi.yaml"

# requirements.lock: the runtime dependencies (no dev extras) pinned with their hashes, which the Dockerfile installs.
# Run after changing pyproject.toml's dependencies; uv resolves for Python 3.11 on every platform.
lock: $(STAMP)
	@test -x $(BIN)/uv || $(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	  --custom-compile-command "make lock" -o requirements.lock

bench: $(STAMP)
	$(BIN)/python -m bench.decide
	$(BIN)/python -m bench.gate_check
	$(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.sync --deals 20000
	$(BIN)/python -m bench.scoring
	$(BIN)/python -m bench.rescore --records 100000 --sqlite
	$(BIN)/python -m bench.webhook_load
	$(BIN)/python -m bench.workers
	$(BIN)/python -m bench.workers --actions 4000 --latency-ms 10
	$(BIN)/python -m bench.reports --deals 100000 --transitions 500000
	$(BIN)/python -m bench.analytics

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
