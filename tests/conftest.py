"""Shared test setup: quiet TF logs, deterministic seeds, helpers."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# The tests never download: a dataset that is not on disk must fail fast.
os.environ.setdefault('ANTIGAN_TF_OFFLINE', '1')
# Caches (the evaluation network) go to a directory of this test session, never
# to the user's ~/.cache; subprocesses (CLI tests) inherit it.
if 'ANTIGAN_TF_CACHE_DIR' not in os.environ:
  os.environ['ANTIGAN_TF_CACHE_DIR'] = tempfile.mkdtemp(prefix='antigan_tf-test-cache-')
  atexit.register(shutil.rmtree, os.environ['ANTIGAN_TF_CACHE_DIR'], ignore_errors=True)

import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

import helpers  # pylint: disable=g-import-not-at-top,wrong-import-position

# Tells the TFF workers of this test process from those of tests running beside
# it (pytest-xdist): see helpers.worker_pids. Set in every process, not inherited.
os.environ[helpers.TEST_PROCESS_VAR] = f'{os.getpid()}-{os.urandom(4).hex()}'

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# `make test-modern` runs the plain-TF part on a stack without TFF (TF 2.21,
# Keras 3): the tests of the federated part are not collected there, and tests
# marked `tff` in other modules are deselected. `make test` runs them all.
MODERN_STACK = os.environ.get('ANTIGAN_TF_TEST_STACK') == 'modern'
# Sweeps are part of the federated part: they parse `ExperimentConfig`. Of the
# notebooks, the integrating one runs there (its TFF cells in the TFF stack's
# Python, $ANTIGAN_TF_FEDERATED_PYTHON); the Colab set-up is the TFF stack's.
collect_ignore_glob = ['federated/*', 'colab/test_project_env.py', 'experiments/test_sweep.py',
                       'experiments/test_run_flags.py'] if MODERN_STACK else []


@pytest.fixture
def repo_root():
  return REPO_ROOT


@pytest.hookimpl(tryfirst=True)  # Before pytest-xdist reads the groups.
def pytest_collection_modifyitems(config, items):
  """Keeps the tests sharing a module fixture in one pytest-xdist process
  (`--dist loadgroup`, as `make test` runs), so that it is set up once; on
  the modern stack, leaves out the tests marked `tff`."""
  if MODERN_STACK:
    needs_tff = {item.nodeid for item in items if item.get_closest_marker('tff')}
    config.hook.pytest_deselected(items=[item for item in items if item.nodeid in needs_tff])
    items[:] = [item for item in items if item.nodeid not in needs_tff]
  for item in items:
    fixture_defs = getattr(item, '_fixtureinfo', None)
    if fixture_defs is None:
      continue
    for defs in fixture_defs.name2fixturedefs.values():
      # Ours only: pytest's own session fixtures (tmp_path_factory) are cheap.
      if defs and defs[-1].scope == 'module' and defs[-1].baseid:
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split('::')[0]))
        break
