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

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def repo_root():
  return REPO_ROOT
