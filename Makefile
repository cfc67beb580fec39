# PrefStudio: `make run` (the app with a demo project) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

# make run: embedded SQLite + filesystem broker, development settings.
RUN_ENV := DEBUG=1 SECURE_COOKIES=0 DATABASE_URL=sqlite:///var/prefstudio.sqlite3 CELERY_BROKER_URL=filesystem://
# make test: real PostgreSQL and Redis on this machine.
TEST_ENV := SECRET_KEY=test-only-secret DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/prefstudio} \
	CELERY_BROKER_URL=$${TEST_BROKER_URL:-redis://127.0.0.1:6379/15}

.PHONY: run test venv deps test-deps services migrate demo worker web bench clean help

help:
	@echo "make run    - install, migrate SQLite, load the demo project, start web + worker"
	@echo "make test   - install test deps, start PostgreSQL/Redis if down, run the whole suite"
	@echo "make bench  - run the benchmark scripts in bench/"

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	touch $@

$(VENV)/.deps: requirements/base.txt $(VENV)/.created
	$(PIP) install -q -r requirements/base.txt
	touch $@

$(VENV)/.test-deps: requirements/test.txt requirements/base.txt $(VENV)/.deps
	$(PIP) install -q -r requirements/test.txt
	touch $@

venv deps: $(VENV)/.deps
test-deps: $(VENV)/.test-deps

services:
	@bash scripts/services.sh

run: $(VENV)/.deps
	@mkdir -p var
	$(RUN_ENV) $(PY) manage.py migrate --noinput -v0
	$(RUN_ENV) $(PY) manage.py load_demo
	@$(RUN_ENV) HOST=$(HOST) PORT=$(PORT) bash scripts/run_dev.sh

test: $(VENV)/.test-deps services
	$(TEST_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

bench: $(VENV)/.test-deps services
	$(TEST_ENV) $(PY) bench/bench_import.py

clean:
	rm -rf var staticfiles .pytest_cache
