"""What differs between the two Keras APIs the plain-TF part runs on, in one
place: Keras 2 (`tf.keras` of TF 2.14/2.15, or tf-keras with
`TF_USE_LEGACY_KERAS=1`) and Keras 3 (`tf.keras` from TF 2.16 on).

Everything else is written once against `tf.keras`, which is whichever of the
two TensorFlow was installed with.
"""

import importlib

import tensorflow as tf


def _keras_version() -> str:
  # Keras 3's `tf.keras` has `__version__`; Keras 2's (`keras.api._v2.keras`,
  # `tf_keras.api._v2.keras`) does not, but its top-level package has.
  version = getattr(tf.keras, '__version__', None)
  if version is None:
    version = importlib.import_module(tf.keras.__name__.split('.')[0]).__version__
  return version


KERAS_VERSION = _keras_version()
KERAS_3 = int(KERAS_VERSION.split('.')[0]) >= 3


def adam(learning_rate: float, **kwargs) -> tf.keras.optimizers.Optimizer:
  """`tf.keras.optimizers.Adam`, never compiled with XLA.

  Keras 2's optimizers default to `jit_compile=True`, which XLA-compiles the
  update on a GPU (and fails where XLA is missing); Keras 3's have no such
  argument and follow the model's `jit_compile` instead.
  """
  if not KERAS_3:
    kwargs['jit_compile'] = False
  return tf.keras.optimizers.Adam(learning_rate, **kwargs)


def is_variable(value) -> bool:
  """Whether `value` is a model variable: a `tf.Variable` under Keras 2, a
  `keras.Variable` (which wraps one) under Keras 3."""
  if isinstance(value, tf.Variable):
    return True
  return KERAS_3 and isinstance(value, tf.keras.Variable)
