# Two commands do all the set-up on a fresh machine (see README):
#   make demo   the embedded end-to-end job
#   make test   the whole test suite (what CI runs)
# Each creates .venv and installs what it needs on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint browser clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools
	$(BIN)/python -m pip install -e ".[dev,libero]"
	touch $(STAMP)

setup: $(STAMP)

# Headless Chromium for the leaderboard site's browser test (Debian packages; needs root, skipped otherwise:
# the test then skips and says why).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "note: installing chromium failed: the leaderboard browser test will be skipped"; \
	else echo "note: chromium not installed and not root: the leaderboard browser test will be skipped"; fi

demo: setup
	$(BIN)/python -m foresight.demo

test: setup browser
	$(BIN)/python -m pytest -q -ra

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
