"""The baseline defenses against hand-computed values."""

import numpy as np
import pytest

from antigan_tf.defense import baselines


def _images(count=4, size=8, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (count, size, size, 1)).astype(np.float32)


def test_blur_spreads_an_impulse_into_a_normalised_gaussian():
  x = np.full((1, 15, 15, 1), 0.0, np.float32)
  x[0, 7, 7, 0] = 1.0
  out = baselines.gaussian_blur(x, sigma=1.5)
  np.testing.assert_allclose(out.sum(), 1.0, rtol=1e-4)
  assert out[0, 7, 7, 0] < 0.2 and out[0, 7, 8, 0] > 0
  # Symmetric, and a constant image stays constant (reflected borders).
  np.testing.assert_allclose(out[0, 7, 6, 0], out[0, 7, 8, 0], rtol=1e-5)
  const = np.full((2, 8, 8, 1), -0.4, np.float32)
  np.testing.assert_allclose(baselines.gaussian_blur(const, sigma=2.0), const, atol=1e-6)


def test_blur_does_not_mix_images_or_channels():
  x = np.zeros((2, 8, 8, 3), np.float32)
  x[0, ..., 1] = 1.0
  out = baselines.gaussian_blur(x, sigma=3.0)
  np.testing.assert_allclose(out[1], 0.0)
  np.testing.assert_allclose(out[0, ..., 1], 1.0, atol=1e-6)
  np.testing.assert_allclose(out[0, ..., [0, 2]], 0.0)


def test_noise_has_the_given_std_is_seeded_and_clipped():
  x = np.zeros((50, 16, 16, 1), np.float32)
  out = baselines.gaussian_noise(x, std=0.2, seed=1)
  assert abs(float(out.std()) - 0.2) < 0.01 and abs(float(out.mean())) < 0.01
  np.testing.assert_array_equal(out, baselines.gaussian_noise(x, std=0.2, seed=1))
  assert not np.array_equal(out, baselines.gaussian_noise(x, std=0.2, seed=2))
  loud = baselines.gaussian_noise(np.ones((4, 8, 8, 1), np.float32), std=5.0)
  assert loud.max() <= 1.0 and loud.min() >= -1.0


def test_pixelate_replaces_blocks_by_their_mean():
  x = _images(2, 8)
  out = baselines.pixelate(x, block=4)
  for i in range(2):
    for r in (0, 4):
      for c in (0, 4):
        block = x[i, r:r + 4, c:c + 4, 0]
        np.testing.assert_allclose(out[i, r:r + 4, c:c + 4, 0], block.mean(), atol=1e-5)


def test_pixelate_partial_blocks_keep_the_shape():
  out = baselines.pixelate(_images(2, 28), block=3)
  assert out.shape == (2, 28, 28, 1)
  assert len(np.unique(out[0])) <= 100  # ceil(28 / 3) ** 2 blocks.


def test_apply_baseline_changes_only_the_protected_class():
  x = _images(6)
  y = np.array([0, 6, 1, 6, 6, 2])
  out_x, out_y = baselines.apply_baseline('gaussian_noise', x, y, protected_classes=[6],
                                          strength=0.3)
  assert out_y.tolist() == [0, 1, 2, 6, 6, 6]
  np.testing.assert_array_equal(out_x[:3], x[[0, 2, 5]])
  assert not np.allclose(out_x[3:], x[[1, 3, 4]])
  drop_x, drop_y = baselines.apply_baseline('drop_class', x, y, protected_classes=[6])
  assert drop_y.tolist() == [0, 1, 2] and len(drop_x) == 3


@pytest.mark.parametrize('name, strength, match', [
    ('gaussian_blur', 0.0, 'sigma'), ('gaussian_blur', -1.0, 'sigma'),
    ('gaussian_noise', 0.0, 'std'), ('pixelate', 1, 'block'), ('pixelate', 2.5, 'block'),
    ('pixelate', 9, 'block'), ('median', 1.0, 'name'),
])
def test_bad_strengths_are_refused(name, strength, match):
  with pytest.raises(ValueError, match=match):
    baselines.apply_baseline(name, _images(2), np.array([6, 6]), protected_classes=[6],
                             strength=strength)
