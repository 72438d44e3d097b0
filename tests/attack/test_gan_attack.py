"""The Hitaj et al. attacker's generator side, on tiny networks."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf import models
from antigan_tf.attack import GanAttacker

_SHAPE = (8, 8, 1)
_NUM_CLASSES = 3


def _attacker(seed=0, **kwargs):
  args = dict(target_class=0, fake_label=2, num_classes=_NUM_CLASSES, latent_dim=4,
              generator_width=4, batch_size=8, learning_rate=1e-2, seed=seed)
  args.update(kwargs)
  return GanAttacker(_SHAPE, **args)


def _classifier(seed=0):
  tf.keras.utils.set_random_seed(seed)
  return models.build_classifier(_SHAPE, _NUM_CLASSES, width=4, dense_units=8)


def _assert_weights_equal(a, b):
  for wa, wb in zip(a.generator.weights, b.generator.weights):
    np.testing.assert_array_equal(wa.numpy(), wb.numpy())


def test_training_raises_target_confidence_and_leaves_classifier_alone():
  classifier = _classifier()
  before = [w.copy() for w in classifier.get_weights()]
  attacker = _attacker()
  first = attacker.train_generator(classifier, steps=1, round_num=0)
  last = attacker.train_generator(classifier, steps=30, round_num=1)
  assert np.isfinite(first['generator_loss']) and np.isfinite(last['generator_loss'])
  assert last['target_confidence'] > first['target_confidence'] + 0.1
  assert last['generator_loss'] < first['generator_loss']
  assert int(attacker.optimizer.iterations) == 31
  for w0, w1 in zip(before, classifier.get_weights()):
    np.testing.assert_array_equal(w0, w1)


def test_step_loop_is_traced_once_per_classifier_object():
  classifier = _classifier()
  attacker = _attacker()
  attacker.train_generator(classifier, steps=2, round_num=0)
  fn = attacker._train_fn  # pylint: disable=protected-access
  # A new round with reassigned weights and another step count: no retrace.
  classifier.set_weights([w * 0.5 for w in classifier.get_weights()])
  attacker.train_generator(classifier, steps=3, round_num=1)
  assert attacker._train_fn is fn  # pylint: disable=protected-access
  assert fn.experimental_get_tracing_count() == 1
  other = _classifier(seed=1)
  attacker.train_generator(other, steps=1, round_num=2)
  assert attacker._train_fn is not fn  # pylint: disable=protected-access


def test_same_seed_same_weights_and_images_different_round_different_images():
  a, b = _attacker(seed=3), _attacker(seed=3)
  _assert_weights_equal(a, b)
  images = a.generate(5, round_num=2)
  assert images.shape == (5, *_SHAPE) and images.dtype == np.float32
  assert np.all(np.abs(images) <= 1.0)
  np.testing.assert_array_equal(images, b.generate(5, round_num=2))
  np.testing.assert_array_equal(images, a.generate(5, round_num=2))
  assert not np.allclose(images, a.generate(5, round_num=3))
  assert not np.allclose(images, _attacker(seed=4).generate(5, round_num=2))
  assert a.generate(0, round_num=0).shape == (0, *_SHAPE)


def test_get_state_set_state_resumes_exactly():
  classifier = _classifier()
  original = _attacker(seed=1)
  # A fresh attacker with the same arguments (the seed is configuration, not
  # state: it keys the latents of every round).
  resumed = _attacker(seed=1)
  assert len(resumed.get_state()) == len(original.get_state())  # Fixed structure.
  original.train_generator(classifier, steps=3, round_num=0)
  state = original.get_state()
  # Training is reproducible: same seed, round and steps, same state.
  resumed.train_generator(classifier, steps=3, round_num=0)
  for s1, s2 in zip(state, resumed.get_state()):
    np.testing.assert_array_equal(s1, s2)
  # Scramble the copy: everything must come from the restored state.
  rng = np.random.default_rng(0)
  resumed.set_state([(rng.normal(size=a.shape) + 5).astype(a.dtype) for a in state])
  resumed.set_state(state)
  r1 = original.train_generator(classifier, steps=4, round_num=1)
  r2 = resumed.train_generator(classifier, steps=4, round_num=1)
  for s1, s2 in zip(original.get_state(), resumed.get_state()):
    np.testing.assert_allclose(s1, s2, rtol=0, atol=1e-6)
  assert int(resumed.optimizer.iterations) == 7
  assert r1['generator_loss'] == pytest.approx(r2['generator_loss'], abs=1e-6)
  np.testing.assert_allclose(
      original.generate(4, round_num=1), resumed.generate(4, round_num=1), atol=1e-6)
  # get_state returns copies, not views of the variables.
  state[0][...] = 123.0
  assert not np.any(original.get_state()[0] == 123.0)


def test_set_state_rejects_wrong_structure():
  attacker = _attacker()
  state = attacker.get_state()
  with pytest.raises(ValueError, match='state'):
    attacker.set_state(state[:-1])
  state[0] = np.zeros((1, 1), np.float32)
  with pytest.raises(ValueError, match=r'state\[0\]'):
    attacker.set_state(state)


def test_reconstructions_use_a_fixed_latent_batch():
  attacker = _attacker()
  r0 = attacker.reconstructions(6)
  assert r0.shape == (6, *_SHAPE)
  np.testing.assert_array_equal(r0, attacker.reconstructions(6))
  assert not np.allclose(r0, attacker.reconstructions(6, seed=5))
  # New generator weights (as after a round of training).
  attacker.set_state([a * 1.5 if a.dtype == np.float32 else a for a in attacker.get_state()])
  r1 = attacker.reconstructions(6)
  assert not np.allclose(r0, r1)  # The generator changed, the latents did not.
  np.testing.assert_array_equal(r1, attacker.reconstructions(6))


def test_inject_appends_fake_labelled_images_after_the_real_ones():
  attacker = _attacker()
  rng = np.random.default_rng(0)
  x = rng.uniform(-1, 1, (5, *_SHAPE)).astype(np.float32)
  y = np.array([1, 2, 1, 2, 1], np.int64)
  x_copy, y_copy = x.copy(), y.copy()
  x_out, y_out = attacker.inject(x, y, num_images=3, round_num=7)
  assert x_out.shape == (8, *_SHAPE) and x_out.dtype == np.float32
  assert y_out.shape == (8,) and y_out.dtype == np.int32
  np.testing.assert_array_equal(x_out[:5], x_copy)
  np.testing.assert_array_equal(y_out[:5], y_copy)
  np.testing.assert_array_equal(y_out[5:], [2, 2, 2])
  np.testing.assert_array_equal(x_out[5:], attacker.generate(3, round_num=7))
  np.testing.assert_array_equal(x, x_copy)  # Inputs untouched.
  same_x, same_y = attacker.inject(x, y, num_images=0, round_num=7)
  assert same_x is x and same_y is y
  # An attacker without real data of its own.
  x_only, y_only = attacker.inject(np.zeros((0, *_SHAPE), np.float32),
                                   np.zeros((0,), np.int32), num_images=2, round_num=0)
  assert x_only.shape == (2, *_SHAPE) and list(y_only) == [2, 2]


@pytest.mark.parametrize(
    'x_shape, y, message',
    [
        ((4, 8, 8), [0, 1, 1, 0], 'x_local'),
        ((4, 4, 4, 1), [0, 1, 1, 0], 'x_local'),
        ((4, *_SHAPE), [0, 1, 1], 'y_local'),
        ((4, *_SHAPE), [0.0, 1.0, 1.0, 0.0], 'y_local'),
        ((4, *_SHAPE), [0, 1, 3, 0], 'y_local'),
    ],
)
def test_inject_validates_shapes(x_shape, y, message):
  with pytest.raises(ValueError, match=message):
    _attacker().inject(np.zeros(x_shape, np.float32), np.asarray(y), num_images=1, round_num=0)


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'target_class': 3}, 'target_class'),
        ({'target_class': -1}, 'target_class'),
        ({'fake_label': 3}, 'fake_label'),
        ({'fake_label': 0}, 'fake_label'),  # == target_class.
        ({'num_classes': 1, 'target_class': 0, 'fake_label': 0}, 'num_classes'),
        ({'latent_dim': 0}, 'latent_dim'),
        ({'generator_width': True}, 'generator_width'),
        ({'batch_size': 0}, 'batch_size'),
        ({'learning_rate': 0.0}, 'learning_rate'),
        ({'learning_rate': float('nan')}, 'learning_rate'),
        ({'learning_rate': float('inf')}, 'learning_rate'),
        ({'seed': -1}, 'seed'),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    _attacker(**kwargs)


def test_bad_image_shape():
  with pytest.raises(ValueError, match='image_shape'):
    GanAttacker((7, 7, 1), target_class=0, fake_label=1, num_classes=2)


def test_bad_training_and_sampling_arguments():
  attacker = _attacker()
  classifier = _classifier()
  with pytest.raises(ValueError, match='steps'):
    attacker.train_generator(classifier, steps=0, round_num=0)
  with pytest.raises(ValueError, match='round_num'):
    attacker.train_generator(classifier, steps=1, round_num=-1)
  with pytest.raises(ValueError, match='classifier'):
    attacker.train_generator(
        models.build_classifier(_SHAPE, 5, width=2, dense_units=4), steps=1, round_num=0)
  with pytest.raises(ValueError, match='classifier'):
    attacker.train_generator(
        models.build_classifier((12, 12, 1), _NUM_CLASSES, width=2, dense_units=4),
        steps=1, round_num=0)
  with pytest.raises(ValueError, match='num_images'):
    attacker.generate(-1, round_num=0)
  with pytest.raises(ValueError, match='num_images'):
    attacker.reconstructions(0)


def test_import_does_not_load_tff():
  code = ("import sys, antigan_tf.attack\n"
          "assert 'tensorflow_federated' not in sys.modules\n"
          "print('OK')\n")
  out = subprocess.run(
      [sys.executable, '-c', code], capture_output=True, text=True, check=True, timeout=300)
  assert out.stdout.strip().endswith('OK')


def _prior_images(count=16, seed=3):
  return np.random.default_rng(seed).uniform(-1, 1, (count, *_SHAPE)).astype(np.float32)


def test_image_prior_trains_a_critic_and_resumes_exactly():
  classifier = _classifier()
  attacker = _attacker(prior_weight=1.0, prior_critic_steps=2)
  plain = _attacker()
  assert plain.critic is None and attacker.critic is not None
  critic_before = [w.copy() for w in attacker.critic.get_weights()]
  stats = attacker.train_generator(classifier, steps=3, round_num=0,
                                   prior_images=_prior_images())
  assert np.isfinite(stats['generator_loss'])
  assert int(attacker.critic_optimizer.iterations) == 6  # 2 critic updates per step.
  assert any(not np.array_equal(a, b)
             for a, b in zip(critic_before, attacker.critic.get_weights()))
  # The state holds the critic too, and restores the run exactly.
  assert len(attacker.get_state()) > len(plain.get_state())
  restored = _attacker(prior_weight=1.0, prior_critic_steps=2)
  restored.set_state(attacker.get_state())
  for model in (attacker, restored):
    model.train_generator(classifier, steps=2, round_num=1, prior_images=_prior_images())
  _assert_weights_equal(attacker, restored)
  for wa, wb in zip(attacker.critic.weights, restored.critic.weights):
    np.testing.assert_array_equal(wa.numpy(), wb.numpy())
  with pytest.raises(ValueError, match='prior_images'):
    attacker.train_generator(classifier, steps=1, round_num=2)
  with pytest.raises(ValueError, match='prior_weight'):
    _attacker(prior_weight=-1.0)


def test_extra_fake_class_is_the_last_output():
  attacker = _attacker(fake_label=_NUM_CLASSES - 1)
  x, y = attacker.inject(np.zeros((2, *_SHAPE), np.float32), np.array([0, 1]), num_images=3,
                         round_num=0)
  assert y.tolist() == [0, 1, 2, 2, 2]


def _spread(images):
  return float(np.mean(np.abs(images[0::2] - images[1::2])))


def test_mode_seeking_spreads_the_samples():
  classifier = _classifier()
  plain, seeking = _attacker(), _attacker(mode_seeking_weight=1.0)
  for attacker in (plain, seeking):
    attacker.train_generator(classifier, steps=30, round_num=0)
  assert _spread(seeking.reconstructions(32)) > 1.5 * _spread(plain.reconstructions(32))
  with pytest.raises(ValueError, match='mode_seeking_weight'):
    _attacker(mode_seeking_weight=-1.0)
  with pytest.raises(ValueError, match='batch_size'):
    _attacker(mode_seeking_weight=1.0, batch_size=1)
