"""The adaptive attacker's pairs and inversion network, on tiny data."""

import numpy as np
import pytest

from antigan_tf.attack import adaptive
from antigan_tf.defense import baselines
from antigan_tf.defense import mixing
from antigan_tf.defense.config import DefenderConfig
from antigan_tf.models import build_inversion_network

_SHAPE = (16, 16, 1)
_TINY = dict(batch_size=16, width=8, learning_rate=3e-3)
_TINY_DEFENDER = dict(latent_dim=4, generator_width=2, critic_width=2, n_critic=1,
                      batch_size=8, epochs=1, restarts=1, projection_steps=2,
                      projection_batch_size=8, image_grid_every_n_steps=1000)


def _images(n, seed=0):
  """Smooth blobs in [-1, 1]: an image distribution with structure to learn."""
  rng = np.random.default_rng(seed)
  rows, cols = np.mgrid[0:16, 0:16]
  centres = rng.uniform(4, 12, (n, 2))
  widths = rng.uniform(2, 5, (n, 1, 1))
  dist = (rows - centres[:, :1, None]) ** 2 + (cols - centres[:, 1:, None]) ** 2
  return (2 * np.exp(-dist / (2 * widths ** 2)) - 1)[..., None].astype(np.float32)


def _contrast(x):
  """A toy defense with a known inverse: x' = 0.5 x - 0.3."""
  return (0.5 * x - 0.3).astype(np.float32)


def test_inversion_undoes_a_toy_defense_with_a_known_inverse():
  train, test = _images(200, seed=0), _images(50, seed=1)
  result = adaptive.train_inversion_network(_contrast(train), train, steps=300, seed=0, **_TINY)
  defended_l1 = float(np.mean(np.abs(_contrast(test) - test)))
  inverted_l1 = float(np.mean(np.abs(adaptive.invert(result.network, _contrast(test)) - test)))
  # On images it never saw: much closer to the originals than the defended ones.
  assert inverted_l1 < 0.25 * defended_l1, (inverted_l1, defended_l1)
  v = result.validation
  assert v['num_pairs'] == 20 and v['l1_inverted'] < 0.25 * v['l1_defended']
  history = result.history
  assert len(history['step']) == len(history['l1']) == len(history['held_out_l1']) <= 3
  assert history['l1'][-1] < history['l1'][0]


def test_inversion_of_the_identity_defense_leaves_images_unchanged():
  x = _images(64)
  result = adaptive.train_inversion_network(x, x, steps=50, seed=0, **_TINY)
  np.testing.assert_allclose(adaptive.invert(result.network, _images(20, seed=3)),
                             _images(20, seed=3), atol=1e-5)


def test_training_keeps_the_weights_that_invert_held_out_pairs_best(monkeypatch):
  # Pairs with nothing to learn (noise to unrelated noise) overfit at once:
  # the held-out L1 stops improving and training stops before `steps`.
  rng = np.random.default_rng(0)
  noise = lambda: rng.uniform(-1, 1, (40, *_SHAPE)).astype(np.float32)
  result = adaptive.train_inversion_network(noise(), noise(), steps=2000, seed=0, **_TINY)
  held_out = result.history['held_out_l1']
  assert result.history['step'][-1] < 2000
  # The kept weights are the best held-out ones; clipping the output to the
  # images' [-1, 1] can only lower the L1 that Keras's val_loss measured.
  best = min(held_out)
  assert best * 0.99 <= result.validation['l1_inverted'] <= best + 1e-6


def test_untrained_network_is_the_identity_and_invert_clips():
  network = build_inversion_network(_SHAPE, width=4)
  x = _images(5)
  np.testing.assert_allclose(network(x).numpy(), x, atol=1e-6)
  assert network.output_shape[1:] == _SHAPE
  assert np.all(np.abs(adaptive.invert(network, x)) <= 1.0)


@pytest.mark.parametrize('steps, chunks', [(250, 5), (7, 1), (300, 3)])
def test_exactly_steps_are_run_in_chunks(steps, chunks):
  x = _images(8)  # Fewer than 10 pairs: no held-out split, no early stop.
  result = adaptive.train_inversion_network(_contrast(x), x, steps=steps, seed=0, **_TINY)
  assert result.history['step'] == [steps // chunks * (i + 1) for i in range(chunks)]
  assert result.network.optimizer.iterations.numpy() == steps
  assert result.validation == {}


def test_training_is_seeded():
  x = _images(40)
  a, b = (adaptive.train_inversion_network(_contrast(x), x, steps=5, seed=4, **_TINY)
          for _ in range(2))
  np.testing.assert_allclose(adaptive.invert(a.network, x), adaptive.invert(b.network, x),
                             atol=1e-6)


def test_baseline_pairs_are_aligned_with_the_originals():
  x, y = _images(12), np.repeat([0, 1], 6)
  defended, originals = adaptive.baseline_pairs('gaussian_blur', x, y, strength=1.0)
  np.testing.assert_array_equal(originals, x)
  np.testing.assert_allclose(defended, baselines.gaussian_blur(x, sigma=1.0), atol=1e-6)
  with pytest.raises(ValueError, match='drop_class shares no image'):
    adaptive.baseline_pairs('drop_class', x, y)


@pytest.mark.parametrize('mix_ratio, mix_mode, identity_pairs', [
    (0.0, 'replace', 0), (0.5, 'replace', 2 * 4), (0.5, 'add', 2 * 6)])
def test_anti_gan_pairs_train_a_defender_per_class_and_mix_like_the_victim(
    mix_ratio, mix_mode, identity_pairs):
  x, y = _images(24), np.repeat([3, 5], 12)
  config = DefenderConfig(**_TINY_DEFENDER, mix_ratio=mix_ratio, mix_mode=mix_mode)
  defended, originals = adaptive.anti_gan_pairs(config, x, y)
  assert len(defended) == len(originals) == 24 + (identity_pairs if mix_mode == 'add' else 0)
  same = np.all(defended == originals, axis=(1, 2, 3))
  # Projections onto an untrained-ish generator never equal the originals.
  assert int(same.sum()) == identity_pairs
  if mix_mode == 'replace' and mix_ratio:
    _, real = mixing.replace_split(12, mix_ratio=mix_ratio, seed=config.seed)
    assert len(real) == 4
  # Each original is one of the adversary's images.
  known = {image.tobytes() for image in x}
  assert all(image.tobytes() in known for image in originals)


@pytest.mark.parametrize('kwargs, message', [
    (dict(defended=np.zeros((4, 16, 16, 1)), originals=np.zeros((3, 16, 16, 1))), 'aligned'),
    (dict(defended=np.zeros((4, 16, 16, 1)), originals=np.zeros((4, 8, 8, 1))), 'originals'),
    (dict(defended=np.zeros((4, 16, 16, 1)), originals=np.zeros((4, 16, 16, 1)), steps=0),
     'steps'),
])
def test_bad_arguments(kwargs, message):
  kwargs = {'steps': 1, **kwargs}
  with pytest.raises(ValueError, match=message):
    adaptive.train_inversion_network(**kwargs)


def test_added_real_is_the_draw_of_mix_real():
  generated, real = np.zeros((10, 1)), np.arange(20, dtype=float)[:, None]
  mixed, _ = mixing.mix_real(generated, np.zeros(10), real, np.ones(20), mix_ratio=0.5, seed=3)
  chosen = mixing.added_real(10, 20, mix_ratio=0.5, seed=3)
  assert sorted(mixed[mixed[:, 0] > 0, 0]) == sorted(real[chosen, 0][real[chosen, 0] > 0])
  assert len(chosen) == 5
  with pytest.raises(ValueError, match='only 2 are available'):
    mixing.added_real(10, 2, mix_ratio=0.5)
