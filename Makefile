# onebox: `make test` on a fresh machine, then the main job. See README.md and docs/.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | sha256sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
STATE ?= var/local

.PHONY: help venv test lint fmt serve local plan up destroy replace bench profile drills lock clean

help:
	@echo "make test    create .venv, install requirements.txt, run lint, types and the whole suite"
	@echo "make local   the whole box on 127.0.0.1:$(PORT) with no AWS account (Ctrl-C: final backup)"
	@echo "             TOPOLOGY=ha: two boxes on PostgreSQL behind nginx for the load balancer"
	@echo "make serve   run the service with gunicorn on $(HOST):$(PORT), database under var/"
	@echo "make plan    offline plan and monthly cost of the stack (no AWS, no Pulumi CLI); TOPOLOGY=ha"
	@echo "make up      pulumi up (needs the Pulumi CLI and AWS credentials)"
	@echo "make destroy pulumi destroy (backups are kept; see docs/infrastructure.md)"
	@echo "make replace a new box from the newest AL2023 AMI: final backup, replace, restore (asks first)"
	@echo "make drills run the failure drills against the local box and print their tables"
	@echo "make bench   the box as deployed against bare Flask at a 10% CPU quota, then backups"
	@echo "make profile a flame graph of the service's workers under the benchmark's load"
	@echo "make lock    regenerate service/requirements.lock (pip-tools, hashes) from requirements.txt"

venv: $(STAMP)

# The stamp carries the hash of requirements.txt, so a changed pin reinstalls.
$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: lint
	$(PY) -m pytest

fmt: venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

serve: venv
	@mkdir -p var
	APP_DATABASE=var/onebox.db APP_ENV=development \
	  $(VENV)/bin/gunicorn -c service/web/gunicorn.conf.py --bind $(HOST):$(PORT) service.web.wsgi:app

# The whole box on 127.0.0.1, no AWS account: moto_server, restore, gunicorn, publisher, backups.
# Backups run as often as onebox-backup.timer says; BACKUP_EVERY=<seconds> overrides it (drills).
# TOPOLOGY=ha: PostgreSQL, two boxes and nginx standing in for the load balancer (docs/ha.md).
local: venv
	$(PY) -m localbox --port $(PORT) --state $(STATE)$(if $(TOPOLOGY), --topology $(TOPOLOGY))$(if $(BACKUP_EVERY), --backup-every $(BACKUP_EVERY))

plan: venv
	$(PY) -m infra.plan $(if $(TOPOLOGY),--topology $(TOPOLOGY))

up: venv
	$(PY) -m infra.cli up

destroy: venv
	$(PY) -m infra.cli destroy

# Pins amiId to the newest AL2023 AMI (AMI=ami-... for another) and replaces the instance.
replace: venv
	$(PY) -m infra.cli replace $(if $(AMI),--ami $(AMI))

# Each prints its table; bench/README.md keeps the last quiet run's.
bench: venv
	$(PY) -m bench.box
	$(PY) -m bench.backup

# py-spy on gunicorn's workers (cProfile where it cannot attach); writes under var/profile/.
profile: venv
	$(PY) -m bench.flame

# Failure drills against the local box; each prints a table (none is a pass/fail test).
drills: venv
	$(PY) -m bench.drills

# The box's hash-locked requirements, by pip-tools in a throwaway venv (never in .venv); the
# release vendors a wheel for each pin (infra/wheels.py). Commit the result.
LOCK_VENV := var/pip-tools
lock:
	@test -x $(LOCK_VENV)/bin/pip-compile || \
	  ($(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet pip-tools)
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-find-links \
	  --no-emit-index-url --output-file service/requirements.lock service/requirements.txt

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
