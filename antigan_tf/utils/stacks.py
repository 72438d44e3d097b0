"""The two stacks the library installs on, and the error for the missing one.

The plain-TF part runs on any TensorFlow from 2.14 on. The federated part
(`antigan_tf.federated`) needs TensorFlow Federated 0.87, which exists for
Python 3.9-3.11 with TensorFlow 2.14 only. Plain Python: checks without
importing TensorFlow or TFF.
"""

import importlib.util
import platform
import sys

FEDERATED_EXTRA = 'federated'
FEDERATED_PYTHONS = '3.9-3.11'
TFF_VERSION = '0.87.0'


def has_tff() -> bool:
  """Whether tensorflow_federated can be imported here (found, not imported)."""
  return importlib.util.find_spec('tensorflow_federated') is not None


def missing_tff_message() -> str:
  """Why `antigan_tf.federated` cannot be used here, and how to install it."""
  version = platform.python_version()
  if sys.version_info >= (3, 12):
    why = (f'This is Python {version}, on which TFF {TFF_VERSION} does not install: use a '
           f'Python {FEDERATED_PYTHONS} environment for the federated part.')
  else:
    why = (f'Install it in this Python {version} environment: `make install`, or '
           f'`pip install \'antigan_tf[{FEDERATED_EXTRA}]\'` then '
           f'`pip install --no-deps -r requirements/no-deps.txt` (TFF\'s own jaxlib pin '
           f'is no longer on PyPI).')
  return (f'antigan_tf.federated needs TensorFlow Federated {TFF_VERSION} (the '
          f'\'{FEDERATED_EXTRA}\' extra: Python {FEDERATED_PYTHONS}, TensorFlow 2.14, Linux '
          f'x86-64), which is not installed. {why} The plain-TF part (antigan_tf.data, '
          f'models, gan, defense, attack, metrics) works without it. See docs/install.md.')


class FederatedStackMissing(ModuleNotFoundError):
  """`antigan_tf.federated` was imported where TFF is not installed."""

  def __init__(self):
    super().__init__(missing_tff_message(), name='tensorflow_federated')
