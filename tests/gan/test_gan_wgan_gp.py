"""The WGAN-GP Keras model of `antigan_tf.gan` on tiny networks."""

import numpy as np
import pytest

import gan_testing
from antigan_tf import models
from antigan_tf.gan import WGANGP

_SHAPE = gan_testing.SHAPE
_nets, _images, _compile, _fit = (gan_testing.nets, gan_testing.images,
                                  gan_testing.compile_gan, gan_testing.fit)


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


def test_same_seed_same_samples():
  a = WGANGP(*_nets(), seed=5)
  b = WGANGP(*_nets(), seed=5)
  np.testing.assert_array_equal(a.sample_latent(3).numpy(), b.sample_latent(3).numpy())
  assert a.generate(5).shape == (5, *_SHAPE)


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'n_critic': 0}, 'n_critic'),
        ({'gp_weight': -1.0}, 'gp_weight'),
        ({'gp_weight': float('inf')}, 'gp_weight'),
    ],
)
def test_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    WGANGP(*_nets(), **kwargs)


def test_mismatched_generator_and_critic_shapes():
  generator = models.build_generator((8, 8, 1), latent_dim=4, width=2)
  critic = models.build_critic((12, 12, 1), width=2)
  with pytest.raises(ValueError, match='does not match'):
    WGANGP(generator, critic)
