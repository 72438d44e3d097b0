"""The Anti-GAN Keras model on tiny networks (`WGANGP` is tested in tests/gan)."""

import csv

import numpy as np
import pytest
import tensorflow as tf

import gan_testing
from antigan_tf import models
from antigan_tf.defense import AntiGAN
from antigan_tf.defense import losses
from antigan_tf.gan import StepCSVLogger
from antigan_tf.gan import WGANGP
from antigan_tf.gan import losses as gan_losses

_SHAPE = gan_testing.SHAPE
_nets, _images, _compile, _fit = (gan_testing.nets, gan_testing.images,
                                  gan_testing.compile_gan, gan_testing.fit)


def _twin_nets():
  """Two (generator, critic) pairs with identical initial weights."""
  g1, c1 = _nets(seed=3)
  g2, c2 = _nets(seed=4)
  g2.set_weights(g1.get_weights())
  c2.set_weights(c1.get_weights())
  return (g1, c1), (g2, c2)


def test_anti_gan_with_zero_lambdas_is_exactly_wgan_gp():
  x = _images()
  (g1, c1), (g2, c2) = _twin_nets()
  plain = _compile(WGANGP(g1, c1, n_critic=2, seed=7))
  anti = _compile(AntiGAN(g2, c2, lambda1=0.0, lambda2=0.0, target_mode='per_sample', n_critic=2, seed=7))
  h1 = _fit(plain, x, epochs=2)
  h2 = _fit(anti, x, epochs=2)
  for w1, w2 in zip(plain.generator.weights + plain.critic.weights,
                    anti.generator.weights + anti.critic.weights):
    np.testing.assert_array_equal(w1.numpy(), w2.numpy())
  assert h1.history['generator_loss'] == h2.history['generator_loss']


def test_anti_gan_lambdas_change_training_and_are_tracked():
  x = _images()
  (g1, c1), (g2, c2) = _twin_nets()
  plain = _compile(AntiGAN(g1, c1, lambda1=0.0, lambda2=0.0, target_images=x, seed=7))
  anti = _compile(AntiGAN(g2, c2, lambda1=0.1, lambda2=5.0, target_images=x, seed=7))
  _fit(plain, x)
  history = _fit(anti, x)
  for key in ('similarity_loss', 'obfuscation_loss', 'pixel_variance'):
    assert np.isfinite(history.history[key][0])
  changed = [not np.array_equal(a.numpy(), b.numpy())
             for a, b in zip(plain.generator.weights, anti.generator.weights)]
  assert any(changed)


def test_mean_target_is_the_pixel_mean_and_is_a_checkpointed_variable():
  x = _images()
  model = AntiGAN(*_nets(), target_mode='mean', target_images=x)
  np.testing.assert_allclose(model.target.numpy()[0], x.mean(axis=0), atol=1e-6)
  pooled = AntiGAN(*_nets(), target_mode='mean_maxpool', target_images=x)
  assert pooled.target.shape == (1, 4, 4, 1)
  assert any(v is model.target for v in model.variables)


def test_mean_target_is_required_before_fit():
  model = _compile(AntiGAN(*_nets(), target_mode='mean'))
  with pytest.raises(ValueError, match='set_target_images'):
    _fit(model, _images())


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'lambda1': -0.1}, 'lambda1'),
        ({'lambda2': float('nan')}, 'lambda2'),
        ({'variance_mode': 'both'}, 'variance_mode'),
        ({'target_mode': 'median'}, 'target_mode'),
        ({'n_critic': 0}, 'n_critic'),  # Checked by WGANGP, through kwargs.
    ],
)
def test_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    AntiGAN(*_nets(), **kwargs)


def test_mismatched_generator_and_critic_and_target_shapes():
  generator = models.build_generator((8, 8, 1), latent_dim=4, width=2)
  critic = models.build_critic((12, 12, 1), width=2)
  with pytest.raises(ValueError, match='does not match'):
    AntiGAN(generator, critic)
  model = AntiGAN(*_nets())
  with pytest.raises(ValueError, match='target_images'):
    model.set_target_images(np.zeros((2, 4, 4, 1), np.float32))


@pytest.mark.parametrize('target_mode, variance_mode', [('mean', 'max'), ('per_sample', 'min')])
def test_generator_extra_loss_is_the_anti_gan_objective(target_mode, variance_mode):
  # Eq. 9 is written once (`losses.anti_gan_terms`): the model's extra term
  # equals the pure function on the same images, to the last bit.
  x = _images()
  model = AntiGAN(*_nets(), lambda1=0.1, lambda2=5.0, variance_mode=variance_mode,
                  target_mode=target_mode, target_images=x)
  fake = model.generator(model.sample_latent(8), training=False)
  real = tf.constant(x[:8])
  extra, metrics = model.generator_extra_loss(fake, real)
  target = real if target_mode == 'per_sample' else model.target
  expected = losses.anti_gan_objective(
      fake, target, lambda1=0.1, lambda2=5.0, variance_mode=variance_mode,
      target_mode=target_mode)
  assert float(extra) == float(expected)
  tracked = {tracker.name: float(value) for tracker, value in metrics.items()}
  assert tracked['similarity_loss'] == float(
      losses.similarity_loss(fake, target, mode=target_mode))
  assert tracked['obfuscation_loss'] == float(losses.obfuscation_loss(fake))
  assert tracked['pixel_variance'] == float(gan_losses.pixel_variance(fake))


def test_zero_lambdas_add_no_generator_term_but_still_track():
  model = AntiGAN(*_nets(), lambda1=0.0, lambda2=0.0, target_images=_images())
  fake = model.generator(model.sample_latent(4), training=False)
  extra, metrics = model.generator_extra_loss(fake, tf.constant(_images(4)))
  assert extra is None
  assert sorted(t.name for t in metrics) == ['obfuscation_loss', 'pixel_variance', 'similarity_loss']


def _read_csv(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def test_step_csv_logger_logs_the_anti_gan_trackers_per_step(tmp_path):
  path = tmp_path / 'losses.csv'
  tf.keras.utils.set_random_seed(0)
  gan = AntiGAN(
      models.build_generator(_SHAPE, 4, width=2), models.build_critic(_SHAPE, width=2),
      n_critic=1, seed=0, target_images=_images(24), lambda2=1.0)
  gan.compile(
      generator_optimizer=tf.keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9),
      critic_optimizer=tf.keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9))
  history = gan.fit(_images(24), batch_size=8, epochs=2, verbose=0,
                    callbacks=[StepCSVLogger(str(path))])
  rows = _read_csv(path)
  expected = ['step', 'epoch', 'critic_loss', 'generator_loss', 'gradient_penalty',
              'wasserstein', 'similarity_loss', 'obfuscation_loss', 'pixel_variance']
  assert list(rows[0]) == expected
  assert [int(r['step']) for r in rows] == [1, 2, 3, 4, 5, 6]
  assert [int(r['epoch']) for r in rows] == [0, 0, 0, 1, 1, 1]
  # Keras's epoch value is the mean of the epoch's steps: the CSV holds the
  # steps themselves, not running means.
  gan_testing.assert_rows_are_steps_of_the_epochs(rows, history, expected[2:])
