# Two commands matter: `make report` (set up, sample world, weekly report) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SAMPLE ?= data/sample
PIP    := $(BIN)/python -m pip

.PHONY: report test setup setup-test sample browser clean help

help:
	@echo "make report  - set up .venv, build the sample world, validate it, print KPIs, render the weekly report"
	@echo "make test    - set up .venv with the test extra (and chromium) and run the whole suite"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[test]'
	@touch $@ $(VENV)/.installed

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

$(SAMPLE)/accounts.csv: | $(VENV)/.installed
	$(BIN)/workbook sample --out $(SAMPLE)

sample: $(SAMPLE)/accounts.csv

# Debian's chromium for the browser test (headless, --no-sandbox); skipped when already there.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "installing chromium (browser tests)"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

report: $(VENV)/.installed sample
	$(BIN)/workbook validate --data $(SAMPLE)
	$(BIN)/workbook kpis --data $(SAMPLE)
	@html=$$($(BIN)/workbook report weekly --data $(SAMPLE)) && echo "weekly report: $$html"

test: $(VENV)/.installed-test browser
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) data reports/*/ reports/index.html .pytest_cache
