# antigan_tf: the two commands of the README are `make demo` and `make test`.
# Both are idempotent: they create or reuse the virtualenv in $(VENV), install
# the pinned environment when requirements change, and make sure the offline
# Fashion-MNIST files are present.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.antigan_tf-installed
PYTEST_ARGS ?=
# Test processes (pytest-xdist; 0 runs in this one). The tests of one module
# fixture stay in one process (tests/conftest.py), so it is set up once.
PYTEST_WORKERS ?= 2
PYTEST_XDIST := -n $(PYTEST_WORKERS) --dist loadgroup

.PHONY: install datasets test test-all demo bench clean lock

install: $(STAMP)

$(STAMP): requirements/lock.txt requirements/no-deps.txt setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements/lock.txt
	$(PIP) install --quiet --disable-pip-version-check --no-deps -r requirements/no-deps.txt
	$(PIP) install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

datasets:
	@bash scripts/ensure_datasets.sh

# Fast suite (slow tests excluded); `make test-all` also runs tests marked slow.
test: install datasets
	$(PY) -m pytest -m "not slow" $(PYTEST_XDIST) $(PYTEST_ARGS) tests

test-all: install datasets
	$(PY) -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS) tests

demo: install datasets
	$(PY) bin/run_sweep --flagfile=configs/sweeps/main.flags

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements/base.in
	.lock-venv/bin/pip freeze --exclude-editable > requirements/lock.txt.new
	rm -rf .lock-venv
	@echo "Review requirements/lock.txt.new (keep the header comment), then move it over lock.txt."

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
