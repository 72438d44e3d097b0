"""Shared by the benchmarks: machine facts, the JSON report file, and clients
of real Fashion-MNIST images."""

import json
import os
import platform

import numpy as np

from antigan_tf.data import sources

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')


def machine_info(**versions) -> dict:
  """CPU count, Python and platform, plus the given library versions."""
  return {'cpu_count': os.cpu_count(), 'python': platform.python_version(),
          'platform': platform.platform(), **versions}


def default_output(name: str) -> str:
  """benchmarks/results/<name>.json (git-ignored)."""
  return os.path.join(RESULTS_DIR, f'{name}.json')


def write_report(report: dict, path: str) -> None:
  """Writes the report as indented JSON and says where."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'w') as f:
    json.dump(report, f, indent=1)
  print(f'\nwrote {path}')


def fashion_mnist_clients(num_clients: int, per_client: int) -> dict:
  """`num_clients` disjoint clients of `per_client` shuffled training images."""
  data = sources.load_dataset('fashion_mnist', split='train')
  order = np.random.default_rng(0).permutation(len(data.y))
  return {
      f'client_{i:03d}': (data.x[order[i * per_client:(i + 1) * per_client]],
                          data.y[order[i * per_client:(i + 1) * per_client]])
      for i in range(num_clients)
  }
