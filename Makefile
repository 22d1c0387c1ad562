# Clientele — developer entry points. Everything installs from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PORT ?= 8000
export DJANGO_SETTINGS_MODULE ?= config.settings.dev

.PHONY: help install run test test-fast lint format bench lock messages compilemessages clean-db smoke

help:
	@echo "make run    - set up, migrate, seed demo data and serve on http://127.0.0.1:$(PORT)/"
	@echo "make test   - the whole test suite (PostgreSQL when DATABASE_URL is set, else SQLite)"
	@echo "make lint   - ruff, import-linter, migrations check, translation catalogue check"
	@echo "make bench  - benchmark suite against physical references"
	@echo "make smoke  - production smoke test: the deploy/ recipe started and driven over HTTP"

$(VENV)/.installed: requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check uv \
	  && $(BIN)/uv pip sync --quiet --python $(PY) requirements.lock \
	  || $(BIN)/pip install --quiet --require-hashes -r requirements.lock
	@touch $@

install: $(VENV)/.installed compilemessages

compilemessages: $(VENV)/.installed
	@$(PY) scripts/compilemessages.py

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock

run: install
	@mkdir -p var
	@$(PY) manage.py migrate --noinput -v 0
	@test -f var/.seeded || ($(PY) manage.py seed_demo --password "$${DEMO_PASSWORD:-clientele-demo}" && touch var/.seeded)
	@PORT=$(PORT) $(PY) scripts/run.py

test: install
	@DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	@DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest -m "not browser" -x -q $(PYTEST_ARGS)

lint: install
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/lint-imports
	@# No medium or high finding; justified ones carry "# nosec Bxxx" (bandit's notes on
	@# those are dropped from the output, its findings and errors are not).
	@$(BIN)/bandit -q -c pyproject.toml -r apps config scripts deploy --severity-level medium \
	  2> >(grep -v -e 'nosec encountered' -e 'Test in comment' >&2)
	@DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run
	@$(PY) scripts/compilemessages.py --check

format: install
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

messages: install
	@$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=static/vendor --ignore=var --ignore=tests --no-obsolete
	@$(PY) scripts/compilemessages.py

# The production recipe (deploy/) run for real: gunicorn, a worker per queue and beat with
# config.settings.prod on a database of its own, driven over HTTP (scripts/smoke_prod.py).
smoke: install
	@$(PY) scripts/smoke_prod.py

bench: install
	@$(PY) -m tests.bench.run $(BENCH_ARGS)

clean-db:
	rm -f var/db.sqlite3 var/.seeded
