"""Seed-determined weight initialisation, independent of global random state."""

import numpy as np
import tensorflow as tf

from antigan_tf.utils import keras_compat


def seeded_initialize(model: tf.keras.Model, seed: int, stream: int = 0) -> None:
  """Re-initialises every randomly initialised weight of `model` from `seed`.

  Keras's default initializers draw from TensorFlow's global random state,
  so two models built with the same code differ unless the global seed is
  set. Here each weight whose initializer takes a seed (Glorot, He, normal,
  ...) is redrawn from a copy of its own initializer seeded with a value
  derived from (seed, stream, layer index, attribute name); constant
  initializers (zeros, ones: biases, BatchNorm) are left alone. The result
  depends on (seed, stream) only, not on the global random state.

  Args:
    model: a built Keras model.
    seed: integer >= 0.
    stream: integer >= 0 telling apart models initialised from one seed.
  """
  for index, layer in enumerate(model.layers):
    for attr in sorted(vars(layer)):
      if not attr.endswith('_initializer'):
        continue
      initializer = getattr(layer, attr)
      variable = getattr(layer, attr[:-len('_initializer')], None)
      if not isinstance(initializer, tf.keras.initializers.Initializer) or not (
          keras_compat.is_variable(variable)):
        continue
      config = initializer.get_config()
      if 'seed' not in config:
        continue  # Constant initializers.
      entropy = [seed, stream, index, *attr.encode()]
      config['seed'] = int(np.random.SeedSequence(entropy).generate_state(1)[0] >> 1)
      fresh = type(initializer).from_config(config)
      variable.assign(fresh(variable.shape, variable.dtype))
