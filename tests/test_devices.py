"""antigan_tf.utils.devices: the line that says where training runs."""

import subprocess
import sys

from antigan_tf.utils import devices


def test_describe_names_the_cpu_when_tensorflow_sees_no_gpu(monkeypatch):
  monkeypatch.setattr(devices, 'gpu_names', lambda: [])
  assert devices.describe() == 'CPU (TensorFlow sees no GPU)'
  monkeypatch.setattr(devices, 'gpu_names', lambda: ['Tesla T4'])
  assert devices.describe() == 'GPU (Tesla T4)'
  line = devices.training_devices_line()
  assert line.startswith('GAN training (defender, attackers, evaluation network) on GPU (Tesla T4);')
  assert "TFF's worker_binary (CPU)" in line


def test_gpu_names_match_what_tensorflow_lists():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  assert len(devices.gpu_names()) == len(tf.config.list_physical_devices('GPU'))


def test_importing_utils_does_not_import_tensorflow():
  code = 'import sys, antigan_tf.utils.devices; print("tensorflow" in sys.modules)'
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
  assert out.stdout.strip() == 'False'
