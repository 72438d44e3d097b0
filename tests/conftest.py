"""Shared test setup: quiet TF logs, deterministic seeds, helpers."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# The tests never download: a dataset that is not on disk must fail fast.
os.environ.setdefault('ANTIGAN_TF_OFFLINE', '1')

import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def repo_root():
  return REPO_ROOT
