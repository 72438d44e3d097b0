"""The black-box WGAN-GP attacker on tiny networks."""

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf.attack import BlackBoxResult
from antigan_tf.attack import train_black_box_attacker

_SHAPE = (8, 8, 1)
_TINY = dict(batch_size=4, n_critic=1, latent_dim=4, width=2, learning_rate=1e-3,
             num_reconstructions=5)


def _images(n=6, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (n, *_SHAPE)).astype(np.float32)


def test_returns_reconstructions_generator_and_per_step_history():
  images = _images()
  images[0, 0, 0, 0] = 1.0005  # Within the tolerance: clipped, accepted.
  result = train_black_box_attacker(images, steps=3, seed=1, **_TINY)
  assert isinstance(result, BlackBoxResult)
  assert isinstance(result.generator, tf.keras.Model)
  assert result.generator.output_shape[1:] == _SHAPE
  recon = result.reconstructions
  assert recon.shape == (5, *_SHAPE) and recon.dtype == np.float32
  assert np.all(np.isfinite(recon)) and np.all(np.abs(recon) <= 1.0)
  assert set(result.history) == {
      'critic_loss', 'generator_loss', 'gradient_penalty', 'wasserstein'}
  for values in result.history.values():
    assert len(values) == 3 and all(np.isfinite(values))
  assert recon.std(axis=0).max() > 0  # Different latents, different images.


@pytest.mark.parametrize(
    'images, message',
    [
        (np.zeros((0, *_SHAPE), np.float32), 'empty'),
        (np.zeros((4, 8, 8), np.float32), r'\(N, H, W, C\)'),
        (np.full((4, *_SHAPE), 1.5, np.float32), r'\[-1, 1\]'),
        (np.full((4, *_SHAPE), -1.01, np.float32), r'\[-1, 1\]'),
        (np.full((4, *_SHAPE), np.nan, np.float32), 'NaN'),
        (np.array([['a']]), 'numbers'),
        (np.zeros((4, 7, 7, 1), np.float32), 'image_shape'),
    ],
)
def test_rejects_bad_images(images, message):
  with pytest.raises(ValueError, match=message):
    train_black_box_attacker(images, steps=1, **_TINY)


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'steps': 0}, 'steps'),
        ({'batch_size': 0}, 'batch_size'),
        ({'n_critic': 0}, 'n_critic'),
        ({'gp_weight': -1.0}, 'gp_weight'),
        ({'learning_rate': float('nan')}, 'learning_rate'),
        ({'num_reconstructions': 0}, 'num_reconstructions'),
        ({'seed': -2}, 'seed'),
        ({'beta_1': 1.0}, 'beta_1'),
        ({'beta_2': -0.1}, 'beta_2'),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
  args = dict(_TINY, steps=1)
  args.update(kwargs)
  with pytest.raises(ValueError, match=message):
    train_black_box_attacker(_images(), **args)
