# The README's two commands: `make demo` and `make test`. Both build .venv from nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint sim bench mutants clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/stoledger demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

sim: $(STAMP)
	$(VENV)/bin/stoledger sim

bench: $(STAMP)
	$(PY) scripts/bench.py

# Hand-written mutants, each on a temporary copy: every one must be killed by its tests.
mutants: $(STAMP)
	$(PY) scripts/mutants.py

clean:
	rm -rf $(VENV) build *.egg-info
