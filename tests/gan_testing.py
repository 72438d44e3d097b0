"""Tiny GANs for the tests of `antigan_tf.gan` and `antigan_tf.defense`."""

import numpy as np
import tensorflow as tf

from antigan_tf import models

SHAPE = (8, 8, 1)


def nets(seed=0):
  """A (generator, critic) pair of width 2 with seeded weights."""
  tf.keras.utils.set_random_seed(seed)
  return (models.build_generator(SHAPE, latent_dim=4, width=2),
          models.build_critic(SHAPE, width=2))


def images(n=16, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (n, *SHAPE)).astype(np.float32)


def compile_gan(model):
  model.compile(
      generator_optimizer=tf.keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9),
      critic_optimizer=tf.keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9),
  )
  return model


def fit(model, x, epochs=1, batch_size=8):
  return model.fit(tf.data.Dataset.from_tensor_slices(x).batch(batch_size), epochs=epochs,
                   shuffle=False, verbose=0)


def assert_rows_are_steps_of_the_epochs(rows, history, names, steps_per_epoch=3):
  """The step CSV's rows hold each step's values, whose mean is Keras's epoch value."""
  for name in names:
    per_step = np.array([float(r[name]) for r in rows])
    assert np.all(np.isfinite(per_step)), name
    for epoch in range(len(history.history[name])):
      np.testing.assert_allclose(
          per_step[steps_per_epoch * epoch:steps_per_epoch * (epoch + 1)].mean(),
          history.history[name][epoch], rtol=1e-4, atol=1e-5, err_msg=name)
  # Running means would make step 2 the mean of steps 1 and 2; these differ.
  generator_losses = [float(r['generator_loss']) for r in rows[:steps_per_epoch]]
  assert len(set(generator_losses)) == steps_per_epoch
