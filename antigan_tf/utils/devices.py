"""Which device TensorFlow trains on, said in one line for logs and notebooks.

The GAN training (the Anti-GAN defender, both attackers, the evaluation network) is plain
TensorFlow in the calling process and uses a GPU when TensorFlow sees one;
TFF's FedAvg rounds run in its C++ `worker_binary`, which is CPU-only.
TensorFlow is imported on call, so `antigan_tf.utils` stays TF-free.
"""


def gpu_names() -> list[str]:
  """Names of the GPUs TensorFlow sees (e.g. 'Tesla T4'); empty on a CPU-only host."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  names = []
  for gpu in tf.config.list_physical_devices('GPU'):
    details = tf.config.experimental.get_device_details(gpu)
    names.append(details.get('device_name') or gpu.name)
  return names


def describe() -> str:
  """E.g. 'GPU (Tesla T4)' or 'CPU (TensorFlow sees no GPU)'."""
  names = gpu_names()
  if not names:
    return 'CPU (TensorFlow sees no GPU)'
  return f'GPU ({", ".join(names)})'


def training_devices_line() -> str:
  """The line runs log at start: where GAN training and FedAvg rounds run."""
  return (f'GAN training (defender, attackers, evaluation network) on {describe()}; '
          'FedAvg rounds on TFF\'s worker_binary (CPU).')
