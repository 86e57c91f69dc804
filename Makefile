# The README's two commands: `make demo` and `make test`. Both build .venv from nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint sim bench mutants clean browser reference

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/stoledger demo

# Two runs: the in-process tests on both cores (pytest-xdist), then the ones that start node
# processes (marked slow) one at a time, as each cluster already uses both cores.
test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -m "not slow" -n 2
	$(PY) -m pytest -q -m slow
	@$(BROWSER_MISSING) && echo "$(SKIPPED)" || true

# The console's browser tests drive Debian's chromium with its chromedriver (never a browser
# download at test time); a Korean font makes the screenshots readable. Installed here where we
# can (root with apt). Where we cannot, the tests are skipped and we say so loudly, before and
# after the run; REQUIRE_BROWSER=1 (.ci/run) makes that an error instead.
BROWSER_MISSING = ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1
SKIPPED = !!!!!! CHROMIUM NOT INSTALLED: the console's browser tests (tests/e2e/test_console.py) are SKIPPED. Install with: apt-get install chromium chromium-driver !!!!!!
browser:
	@if $(BROWSER_MISSING) && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver with apt for the console's browser tests"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver fonts-nanum >/dev/null; } || echo "apt could not install it"; \
	fi
	@if $(BROWSER_MISSING); then \
		echo "$(SKIPPED)"; \
		if [ -n "$$REQUIRE_BROWSER" ]; then echo "REQUIRE_BROWSER is set: failing"; exit 1; fi; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

sim: $(STAMP)
	$(VENV)/bin/stoledger sim

bench: $(STAMP)
	$(PY) scripts/bench.py

# docs/reference.md's generated blocks (routes, contracts) from the code.
reference: $(STAMP)
	$(PY) scripts/reference.py

# Hand-written mutants, each on a temporary copy: every one must be killed by its tests.
mutants: $(STAMP)
	$(PY) scripts/mutants.py

clean:
	rm -rf $(VENV) build *.egg-info
