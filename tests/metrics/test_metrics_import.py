"""`import antigan_tf.metrics` must not import TensorFlow Federated."""

import subprocess
import sys


def test_import_does_not_load_tff():
  code = ('import sys, antigan_tf.metrics\n'
          'print("TFF", sum(m.startswith("tensorflow_federated") for m in sys.modules))\n')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       check=True, timeout=300).stdout
  assert 'TFF 0' in out
