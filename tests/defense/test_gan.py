"""The WGAN-GP / Anti-GAN Keras models on tiny networks."""

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf import models
from antigan_tf.defense import AntiGAN
from antigan_tf.defense import WGANGP

_SHAPE = (8, 8, 1)


def _nets(seed=0):
  tf.keras.utils.set_random_seed(seed)
  return (models.build_generator(_SHAPE, latent_dim=4, width=2),
          models.build_critic(_SHAPE, width=2))


def _images(n=16, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (n, *_SHAPE)).astype(np.float32)


def _compile(model):
  model.compile(
      generator_optimizer=tf.keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9),
      critic_optimizer=tf.keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9),
  )
  return model


def _fit(model, x, epochs=1, batch_size=8):
  return model.fit(tf.data.Dataset.from_tensor_slices(x).batch(batch_size), epochs=epochs, verbose=0)


def test_fit_reports_every_tracker():
  history = _fit(_compile(WGANGP(*_nets(), n_critic=2)), _images())
  assert set(history.history) == {'critic_loss', 'generator_loss', 'gradient_penalty', 'wasserstein'}
  assert all(np.isfinite(v[0]) for v in history.history.values())


def test_n_critic_updates_per_generator_update():
  model = _compile(WGANGP(*_nets(), n_critic=3))
  _fit(model, _images(16), batch_size=8)  # 2 steps.
  assert int(model.generator_optimizer.iterations) == 2
  assert int(model.critic_optimizer.iterations) == 6


def test_last_smaller_batch_is_handled():
  model = _compile(WGANGP(*_nets(), n_critic=1))
  _fit(model, _images(11), batch_size=8)  # Batches of 8 and 3.
  assert int(model.generator_optimizer.iterations) == 2


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


def test_same_seed_same_samples():
  a = WGANGP(*_nets(), seed=5)
  b = WGANGP(*_nets(), seed=5)
  np.testing.assert_array_equal(a.sample_latent(3).numpy(), b.sample_latent(3).numpy())
  assert a.generate(5).shape == (5, *_SHAPE)


@pytest.mark.parametrize(
    'cls, kwargs, message',
    [
        (WGANGP, {'n_critic': 0}, 'n_critic'),
        (WGANGP, {'gp_weight': -1.0}, 'gp_weight'),
        (WGANGP, {'gp_weight': float('inf')}, 'gp_weight'),
        (AntiGAN, {'lambda1': -0.1}, 'lambda1'),
        (AntiGAN, {'lambda2': float('nan')}, 'lambda2'),
        (AntiGAN, {'variance_mode': 'both'}, 'variance_mode'),
        (AntiGAN, {'target_mode': 'median'}, 'target_mode'),
    ],
)
def test_bad_arguments(cls, kwargs, message):
  with pytest.raises(ValueError, match=message):
    cls(*_nets(), **kwargs)


def test_mismatched_generator_and_critic_and_target_shapes():
  generator = models.build_generator((8, 8, 1), latent_dim=4, width=2)
  critic = models.build_critic((12, 12, 1), width=2)
  with pytest.raises(ValueError, match='does not match'):
    WGANGP(generator, critic)
  model = AntiGAN(*_nets())
  with pytest.raises(ValueError, match='target_images'):
    model.set_target_images(np.zeros((2, 4, 4, 1), np.float32))
