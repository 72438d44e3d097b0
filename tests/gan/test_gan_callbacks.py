"""Callbacks of `antigan_tf.gan.callbacks`, driven by hand and by fit()."""

import csv
import math
import types

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import gan_testing
from antigan_tf.gan import callbacks
from antigan_tf.gan import WGANGP
from antigan_tf.models import builders

_SHAPE = (8, 8, 1)
_LATENT = 4


def _read_csv(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def _tiny_gan(seed=0):
  tf.keras.utils.set_random_seed(seed)
  gan = WGANGP(
      builders.build_generator(_SHAPE, _LATENT, width=2),
      builders.build_critic(_SHAPE, width=2),
      n_critic=1, seed=seed)
  gan.compile(
      generator_optimizer=tf.keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9),
      critic_optimizer=tf.keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9))
  return gan


def _images(n=24, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (n, *_SHAPE)).astype(np.float32)


# ------------------------------------------------------- image grid callback


@pytest.mark.parametrize('channels, mode', [(1, 'L'), (3, 'RGB')])
def test_image_grid_callback_driven_by_hand_uses_a_fixed_z(tmp_path, channels, mode):
  tf.keras.utils.set_random_seed(0)
  generator = builders.build_generator((8, 8, channels), _LATENT, width=2)
  callback = callbacks.ImageGridCallback(str(tmp_path), every_n_steps=2, num_images=9, seed=3)
  callback.set_model(types.SimpleNamespace(generator=generator))  # No optimizer: counts batches.
  callback.on_train_begin()
  for batch in range(4):
    callback.on_train_batch_end(batch, {})
  names = sorted(p.name for p in tmp_path.iterdir())
  assert names == ['grid_step_000002.png', 'grid_step_000004.png']
  callback.on_train_end()
  with Image.open(tmp_path / 'grid_final.png') as final:
    assert final.mode == mode and final.size == (3 * 9 + 1, 3 * 9 + 1)  # 3x3 tiles of 8 px.
    final_pixels = np.asarray(final)
  with Image.open(tmp_path / 'grid_step_000002.png') as first:
    first_pixels = np.asarray(first)
  # Same weights, same fixed z -> the same grid; new weights -> a new grid.
  np.testing.assert_array_equal(first_pixels, final_pixels)
  kernel = generator.get_layer('image').kernel
  kernel.assign(-kernel)
  callback.save_grid('after.png')
  with Image.open(tmp_path / 'after.png') as after:
    assert not np.array_equal(np.asarray(after), final_pixels)
  z = callback.latents()
  assert z.shape == (9, _LATENT)
  np.testing.assert_array_equal(
      z, np.random.default_rng(3).standard_normal((9, _LATENT)).astype(np.float32))


def test_image_grid_callback_in_fit_uses_the_generator_step(tmp_path):
  gan = _tiny_gan()
  callback = callbacks.ImageGridCallback(str(tmp_path), every_n_steps=2, num_images=4)
  gan.fit(_images(), batch_size=8, epochs=1, verbose=0, callbacks=[callback])  # 3 steps.
  assert sorted(p.name for p in tmp_path.iterdir()) == ['grid_final.png', 'grid_step_000002.png']
  with Image.open(tmp_path / 'grid_final.png') as image:
    assert image.size == (2 * 9 + 1, 2 * 9 + 1)


def test_image_grid_callback_rejects_bad_arguments(tmp_path):
  with pytest.raises(ValueError, match='every_n_steps'):
    callbacks.ImageGridCallback(str(tmp_path), every_n_steps=0)
  with pytest.raises(ValueError, match='num_images'):
    callbacks.ImageGridCallback(str(tmp_path), num_images=-1)


# ------------------------------------------------------------------ step CSV


def _logs(step):
  return {'critic_loss': -1.0 * step, 'generator_loss': 0.5 + step, 'wasserstein': 2.0 * step}


def test_step_csv_logger_driven_by_hand_appends_on_resume(tmp_path):
  path = tmp_path / 'sub' / 'losses.csv'
  logger = callbacks.StepCSVLogger(str(path))
  logger.on_train_begin()
  logger.on_epoch_begin(0)
  for step in (1, 2, 3):
    logger.on_train_batch_end(step - 1, _logs(step))
    # Flushed after every row: readable while training runs.
    assert len(_read_csv(path)) == step
  logger.on_train_end()

  resumed = callbacks.StepCSVLogger(str(path))
  resumed.on_train_begin()
  resumed.on_epoch_begin(1)
  for step in (4, 5):
    resumed.on_train_batch_end(step - 4, {**_logs(step), 'pixel_variance': 0.25})
  resumed.close()
  rows = _read_csv(path)
  assert list(rows[0]) == ['step', 'epoch', 'critic_loss', 'generator_loss', 'wasserstein',
                           'pixel_variance']
  assert [int(r['step']) for r in rows] == [1, 2, 3, 4, 5]
  assert [int(r['epoch']) for r in rows] == [0, 0, 0, 1, 1]
  assert [float(r['generator_loss']) for r in rows] == [1.5, 2.5, 3.5, 4.5, 5.5]
  assert [r['pixel_variance'] for r in rows] == ['', '', '', '0.25', '0.25']


def test_step_csv_logger_in_fit_logs_per_step_values(tmp_path):
  path = tmp_path / 'losses.csv'
  gan = _tiny_gan()
  history = gan.fit(_images(), batch_size=8, epochs=2, verbose=0,
                    callbacks=[callbacks.StepCSVLogger(str(path))])
  rows = _read_csv(path)
  expected = ['step', 'epoch', 'critic_loss', 'generator_loss', 'gradient_penalty',
              'wasserstein']
  assert list(rows[0]) == expected
  assert [int(r['step']) for r in rows] == [1, 2, 3, 4, 5, 6]
  assert [int(r['epoch']) for r in rows] == [0, 0, 0, 1, 1, 1]
  # Keras's epoch value is the mean of the epoch's steps: the CSV holds the
  # steps themselves, not running means.
  gan_testing.assert_rows_are_steps_of_the_epochs(rows, history, expected[2:])

  # Resume: a second fit continues the step numbers of the same optimizer.
  gan.fit(_images(), batch_size=8, epochs=3, initial_epoch=2, verbose=0,
          callbacks=[callbacks.StepCSVLogger(str(path))])
  rows = _read_csv(path)
  assert [int(r['step']) for r in rows] == list(range(1, 10))
  assert [int(r['epoch']) for r in rows][-3:] == [2, 2, 2]


def test_step_csv_logger_drops_rows_after_the_restored_step(tmp_path):
  path = tmp_path / 'losses.csv'
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['step', 'epoch', 'critic_loss'])
    for step in range(1, 7):
      writer.writerow([step, (step - 1) // 3, -step])
  gan = _tiny_gan()
  gan.generator_optimizer.iterations.assign(3)  # As if restored at step 3.
  gan.fit(_images(8), batch_size=8, epochs=2, initial_epoch=1, verbose=0,
          callbacks=[callbacks.StepCSVLogger(str(path))])
  rows = _read_csv(path)
  assert [int(r['step']) for r in rows] == [1, 2, 3, 4]
  assert [float(r['critic_loss']) for r in rows[:3]] == [-1.0, -2.0, -3.0]
  assert 'generator_loss' in rows[0] and rows[0]['generator_loss'] == ''


# --------------------------------------------------------- non-finite guard


@pytest.mark.parametrize('bad_value', [float('nan'), float('inf')])
def test_non_finite_guard_names_step_metric_and_last_finite_values(bad_value):
  guard = callbacks.NonFiniteLossGuard()
  guard.on_train_begin()
  guard.on_train_batch_end(0, {'critic_loss': -0.5, 'generator_loss': 1.25})
  guard.on_train_batch_end(1, {'critic_loss': -0.75, 'generator_loss': 2.5})
  with pytest.raises(callbacks.NonFiniteLossError) as info:
    guard.on_train_batch_end(2, {'critic_loss': -1.0, 'generator_loss': bad_value})
  error = info.value
  assert isinstance(error, RuntimeError)
  assert error.step == 3 and error.bad == ['generator_loss']
  assert error.last_finite_step == 2
  assert error.last_finite == {'critic_loss': -0.75, 'generator_loss': 2.5}
  message = str(error)
  assert 'global step 3' in message
  assert f'generator_loss={bad_value}' in message
  assert 'step 2' in message and 'critic_loss=-0.75' in message and 'generator_loss=2.5' in message


def test_non_finite_guard_first_step_has_no_last_finite_values():
  guard = callbacks.NonFiniteLossGuard()
  guard.on_train_begin()
  with pytest.raises(callbacks.NonFiniteLossError, match='No earlier step') as info:
    guard.on_train_batch_end(0, {'critic_loss': float('nan'), 'generator_loss': 1.0})
  assert info.value.step == 1 and info.value.last_finite == {}


def test_non_finite_guard_stops_fit_at_the_poisoned_step(tmp_path):
  gan = _tiny_gan()

  class Poison(tf.keras.callbacks.Callback):

    def on_train_batch_end(self, batch, logs=None):
      if batch == 1:  # After step 2: step 3 sees a NaN critic.
        weights = self.model.critic.trainable_variables[0]
        weights.assign(tf.fill(weights.shape, math.nan))

  logger = callbacks.StepCSVLogger(str(tmp_path / 'losses.csv'))
  with pytest.raises(callbacks.NonFiniteLossError) as info:
    gan.fit(_images(), batch_size=8, epochs=1, verbose=0,
            callbacks=[logger, callbacks.NonFiniteLossGuard(), Poison()])
  logger.close()
  error = info.value
  assert error.step == 3 and error.last_finite_step == 2
  assert 'critic_loss' in error.bad and math.isfinite(error.last_finite['critic_loss'])
  rows = _read_csv(tmp_path / 'losses.csv')
  assert [int(r['step']) for r in rows] == [1, 2, 3]  # The NaN row is kept for diagnosis.
  assert math.isnan(float(rows[-1]['critic_loss']))
  assert float(rows[1]['critic_loss']) == pytest.approx(error.last_finite['critic_loss'])
