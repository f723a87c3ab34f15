# gapscan: two commands set everything up on a fresh Debian/Ubuntu machine (as root).
#   make demo   install what is needed, bring up the lab, scan it, write reports to out/demo/
#   make test   the same set-up, then ruff, mypy and pytest (unit + lab tests on real daemons)
# Both are idempotent: a second run reuses what is installed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
APT_LIST := tests/lab/apt-packages.txt
# Build/run prerequisites that a bare Debian image may lack (the lab's daemons are in APT_LIST).
APT_BASE := python3 python3-venv make ca-certificates
# The report: headless Chromium for the browser test, poppler (pdftotext/pdftoppm) for the PDF tests.
APT_REPORT := chromium poppler-utils
VENV_STAMP := $(VENV)/.installed

.PHONY: all setup system python test lint unit demo bench bench-fleet lab-up lab-down lab-status clean

all: test

setup: system python

# System packages: installed only when missing. policy-rc.d (exit 101) keeps Debian's
# maintainer scripts from starting daemons in the root namespace: the lab starts its own.
system:
	@pkgs="$(APT_BASE) $(APT_REPORT) $$(grep -vE '^\s*(#|$$)' $(APT_LIST) | tr '\n' ' ')"; \
	missing=$$(for p in $$pkgs; do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "system packages: all present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "error: installing system packages needs root: $$missing" >&2; exit 2; fi; \
	echo "installing: $$missing"; \
	created_policy=0; \
	if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; created_policy=1; fi; \
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -q --no-install-recommends $$missing >/tmp/gapscan-apt.log 2>&1 || \
	  { apt-get update -q >>/tmp/gapscan-apt.log 2>&1 && apt-get install -y -q --no-install-recommends $$missing >>/tmp/gapscan-apt.log 2>&1; } || \
	  { tail -20 /tmp/gapscan-apt.log >&2; exit 1; }; \
	if [ $$created_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; \
	echo "system packages: installed"

python: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
	@$(PY) -c "import scanner, checks, reports, nmap, scapy, dns, paramiko, impacket, jinja2" 
	@touch $@
	@echo "python environment: $(VENV) ready"

lint: python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: python
	$(PY) -m pytest -q tests/unit

# Lab tests need root; GAPSCAN_REQUIRE_LAB=1 turns a missing lab into a failure, not a skip.
test: setup lint
	GAPSCAN_REQUIRE_LAB=1 $(PY) -m pytest -q

demo: setup
	$(PY) -m tests.lab demo --out out/demo

bench: setup
	$(PY) benchmarks/discovery_bench.py

# Fleet load: 50 simulated sites publish recorded bundles to RabbitMQ; one ingest worker stores them.
bench-fleet: setup
	$(PY) benchmarks/fleet_bench.py

lab-up: setup
	$(PY) -m tests.lab up

lab-down:
	$(PY) -m tests.lab down

lab-status:
	$(PY) -m tests.lab status

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
