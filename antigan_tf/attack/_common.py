"""Seeding helpers shared by the attackers (private)."""

import numpy as np
import tensorflow as tf


def as_array(value, argname: str) -> np.ndarray:
  """`value` (numpy, tensor or nested lists) as a numpy array."""
  if isinstance(value, (tf.Tensor, tf.Variable)):
    value = value.numpy()
  try:
    return np.asarray(value)
  except (TypeError, ValueError) as e:
    raise ValueError(f'`{argname}` must be an array: {e}') from None


def base_seed(seed: int) -> tf.Tensor:
  """The shape-[2] int64 key of the stateless random streams of `seed`."""
  return tf.constant([seed, 0], tf.int64)


def derive_seed(key: tf.Tensor, *data) -> tf.Tensor:
  """Folds integers (Python or scalar tensors) into a stateless seed key."""
  for value in data:
    key = tf.random.experimental.stateless_fold_in(key, tf.cast(value, tf.int64))
  return key
