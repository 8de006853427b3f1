# reflectlab — `make run` starts everything, `make test` runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
# Candidates are probed by *running* them: pyenv shims answer "command not found".
PYTHON_CANDIDATES := python3.13 python3.12 \
	$(sort $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3)) \
	$(sort $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3)) \
	python3

.PHONY: run test bench install migrate demo static lint format worker clean help

help:
	@echo "make run    — set up (venv, install, migrate, demo) and start web + worker on http://$(HOST):$(PORT)"
	@echo "make test   — the whole test suite (DATABASE_URL / CELERY_BROKER_URL select PostgreSQL / Redis)"
	@echo "make bench  — benchmarks, printing ratios against their baselines"
	@echo "make lint   — ruff check + format check"

$(PY):
	@py=""; for c in $(PYTHON_CANDIDATES); do \
		if "$$c" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then py="$$c"; break; fi; \
	done; \
	if [ -z "$$py" ]; then \
		echo "error: reflectlab needs Python >= 3.12 (Django 6.1). Tried: $(PYTHON_CANDIDATES)" >&2; \
		echo "       Install one (e.g. pyenv install 3.13) and run make again." >&2; exit 1; \
	fi; \
	echo "Using $$py ($$("$$py" --version))"; \
	"$$py" -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

install: $(VENV)/.installed

migrate: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

demo: migrate
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo

# With DEBUG=0 the CSS/JS are served by WhiteNoise from STATIC_ROOT, filled here.
static: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py collectstatic --noinput --verbosity 0

run: demo
	@if [ "$${DEBUG:-1}" = 0 ]; then $(MAKE) --no-print-directory static; fi
	@echo
	@echo "  reflectlab on http://$(HOST):$(PORT)/   (log in as demo / reflectlab-demo)"
	@echo "  web server + Celery worker; Ctrl-C stops both."
	@echo
	@# Both run in the background so the shell's trap fires at once on Ctrl-C
	@# or on the SIGTERM make passes on; a foreground child would defer it.
	@export DEBUG=$${DEBUG:-1}; \
	$(PY) -m celery -A reflectlab worker -Q default,models -c 2 -l warning & worker=$$!; \
	$(PY) manage.py runserver --noreload $(HOST):$(PORT) & web=$$!; \
	trap 'kill $$web $$worker 2>/dev/null; wait $$web $$worker 2>/dev/null; exit 0' INT TERM; \
	wait $$web; kill $$worker 2>/dev/null; wait $$worker 2>/dev/null

worker: install
	DEBUG=$${DEBUG:-1} $(PY) -m celery -A reflectlab worker -Q default,models -l info

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/run.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var/celery var/media var/staticfiles var/reflectlab.sqlite3*
