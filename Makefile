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
# The modern stack (TF 2.21, Keras 3, no TFF): the plain-TF part only.
MODERN_PYTHON ?= $(shell bash scripts/find_python.sh 3.12 3.11)
MODERN_VENV ?= .venv-modern
MODERN_PY := $(MODERN_VENV)/bin/python
MODERN_STAMP := $(MODERN_VENV)/.antigan_tf-installed
PACKAGE_FILES := $(shell git ls-files antigan_tf bin 2>/dev/null)
# The integrating notebook's TFF cells run in the TFF stack's Python (`install`).
MODERN_PYTEST := ANTIGAN_TF_TEST_STACK=modern ANTIGAN_TF_FEDERATED_PYTHON=$(abspath $(PY)) \
	$(MODERN_PY) -m pytest -m "not slow" $(PYTEST_XDIST) $(PYTEST_ARGS) tests

.PHONY: install datasets test test-all demo bench clean lock install-modern test-modern test-modern-tf-keras lock-modern

install: $(STAMP)

$(STAMP): requirements/lock.txt requirements/no-deps.txt requirements/federated.in setup.py
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

# `pip install .` as a user would (not editable): reinstalled when the package
# changes, so the tests' subprocesses run the code of this checkout.
install-modern: $(MODERN_STAMP)

$(MODERN_STAMP): requirements/modern-lock.txt requirements/federated.in setup.py $(PACKAGE_FILES)
	@test -n "$(MODERN_PYTHON)" || { echo "No Python 3.12 or 3.11 for the modern stack." >&2; exit 2; }
	@test -x $(MODERN_PY) || $(MODERN_PYTHON) -m venv $(MODERN_VENV)
	$(MODERN_PY) -m pip install --quiet --disable-pip-version-check -r requirements/modern-lock.txt
	$(MODERN_PY) -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall .
	@touch $@

# Every test that does not need TFF (tests/conftest.py leaves the others out).
test-modern: install-modern install datasets
	$(MODERN_PYTEST)

# The same on Keras 2 (tf-keras) instead of Keras 3.
test-modern-tf-keras: install-modern install datasets
	TF_USE_LEGACY_KERAS=1 $(MODERN_PYTEST)

lock-modern:
	rm -rf .lock-venv && $(MODERN_PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements/modern.in
	.lock-venv/bin/pip freeze --exclude-editable > requirements/modern-lock.txt.new
	rm -rf .lock-venv
	@echo "Review requirements/modern-lock.txt.new (keep the header comment), then move it over modern-lock.txt."

demo: install datasets
	$(PY) bin/run_sweep --flagfile=configs/sweeps/main.flags

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements/base.in
	.lock-venv/bin/pip freeze --exclude-editable > requirements/lock.txt.new
	rm -rf .lock-venv
	@echo "Review requirements/lock.txt.new (keep the header comment), then move it over lock.txt."

clean:
	rm -rf $(VENV) $(MODERN_VENV) build *.egg-info .pytest_cache
