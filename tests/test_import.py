"""`import antigan_tf` (and its plain-TF subpackages) must not import TFF."""

import subprocess
import sys

import pytest


def test_import_does_not_load_tff():
  code = (
      'import sys, antigan_tf, antigan_tf.data, antigan_tf.models\n'
      'loaded = sorted(m for m in sys.modules if m.startswith("tensorflow_federated"))\n'
      'print("TFF", len(loaded))\n'
      'print("VERSION", antigan_tf.__version__)\n'
  )
  out = subprocess.run(
      [sys.executable, '-c', code], capture_output=True, text=True, check=True, timeout=300
  ).stdout
  assert 'TFF 0' in out
  assert 'VERSION 0.' in out


@pytest.mark.tff
def test_federated_package_does_load_tff():
  out = subprocess.run(
      [sys.executable, '-c',
       'import sys, antigan_tf.federated.runtime; print("tensorflow_federated" in sys.modules)'],
      capture_output=True, text=True, check=True, timeout=300,
  ).stdout
  assert out.strip().endswith('True')
