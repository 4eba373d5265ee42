# Every target does the whole set-up on a fresh machine first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.audiolens-installed

.PHONY: setup browser run test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml Makefile
	# torch first, pinned to the local CPU build: a bare `pip install torch` pulls a CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,ray,weights,webdataset,export]"
	# Test references only, hence --no-deps: lightly (tests/losses/test_ssl.py loads its loss file;
	# its dependencies would pull torchvision and a CUDA torch) and the HEAR validator (it imports
	# tensorflow, which tests/test_hear.py replaces by a stand-in).
	$(PY) -m pip install --quiet --no-deps lightly==1.6.0 hearvalidator==2021.0.2
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(VENV)/bin/audiolens run $(ARGS)

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports

# Browser tests (tests/report/test_browser.py) drive Debian's Chromium, never a downloaded browser:
# the packages chromium and chromium-driver, installed here when missing (needs root; CI runs as root
# and sets AUDIOLENS_REQUIRE_BROWSER=1, so a failed install fails the tests instead of skipping them).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  echo "installing Debian's chromium and chromium-driver for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; log=$$(mktemp); \
	  apt-get install -y -q chromium chromium-driver >$$log 2>&1 || \
	  { apt-get update -q >$$log 2>&1 && apt-get install -y -q chromium chromium-driver >$$log 2>&1; } || \
	  { tail -5 $$log; echo "warning: could not install chromium and chromium-driver (root and Debian's registry needed)"; }; \
	fi

test: lint browser
	$(PY) -m pytest -q -ra $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/frontends.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
