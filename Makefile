# The two commands of the README: `make demo` and `make test`. Both set up the virtual
# environment first (once, and again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home

# The browser tests drive the Debian chromium (never a downloaded browser); the colour
# emoji font draws the dashboard's traffic lights in their screenshots.
CHROMIUM := /usr/bin/chromium
AUDIENCE ?= sponsor
# The engine tests (tests/test_engines.py) start a private PostgreSQL server and a local
# Spark session, which needs Java: Debian packages, installed when missing (as root).
ENGINE_PACKAGES := $(if $(wildcard /usr/lib/postgresql/*/bin/pg_ctl),,postgresql) $(if $(shell command -v java),,default-jre-headless)

.PHONY: setup engine-prerequisites demo test dev dashboard clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/cg-demo

engine-prerequisites:
ifneq ($(strip $(ENGINE_PACKAGES)),)
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(ENGINE_PACKAGES)
endif

test: setup engine-prerequisites $(CHROMIUM)
	$(BIN)/python -m pytest

$(CHROMIUM):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-noto-color-emoji

dashboard: setup
	$(BIN)/cg-dashboard --audience $(AUDIENCE)

dev: setup
	$(BIN)/dagster dev

clean:
	rm -rf data/landing data/archive data/warehouse.duckdb data/published data/logs dbt_project/target
	find data/dagster_home -mindepth 1 ! -name dagster.yaml -exec rm -rf {} +
