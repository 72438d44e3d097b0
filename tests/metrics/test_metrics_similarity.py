"""Nearest-neighbour SSIM/PSNR, `summarize` and pixel variance, by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf.gan import losses
from antigan_tf.metrics import similarity

C1 = (0.01 * 2.0)**2  # SSIM constants for max_val = 2.
C2 = (0.03 * 2.0)**2


def _random_images(n, size=12, channels=1, seed=0, low=-1.0, high=1.0):
  rng = np.random.default_rng(seed)
  return rng.uniform(low, high, (n, size, size, channels)).astype(np.float32)


def _ssim_float64(a, b, *, max_val=2.0, filter_size=11, sigma=1.5):
  """Straight per-window SSIM of two [-1, 1] images, shifted to [0, 2]."""
  a = a.astype(np.float64) + 1.0
  b = b.astype(np.float64) + 1.0
  coords = np.arange(filter_size) - (filter_size - 1) / 2
  g = np.exp(-coords**2 / (2 * sigma**2))
  w = np.outer(g, g) / np.outer(g, g).sum()
  c1, c2 = (0.01 * max_val)**2, (0.03 * max_val)**2
  values = []
  height, width, channels = a.shape
  for c in range(channels):
    for r in range(height - filter_size + 1):
      for q in range(width - filter_size + 1):
        pa = a[r:r + filter_size, q:q + filter_size, c]
        pb = b[r:r + filter_size, q:q + filter_size, c]
        ma, mb = (w * pa).sum(), (w * pb).sum()
        va, vb = (w * pa * pa).sum() - ma**2, (w * pb * pb).sum() - mb**2
        cov = (w * pa * pb).sum() - ma * mb
        values.append((2 * ma * mb + c1) / (ma**2 + mb**2 + c1) * (2 * cov + c2) / (va + vb + c2))
  return np.mean(values)


@pytest.mark.parametrize('channels', [1, 3])
def test_ssim_of_an_image_with_itself_is_one(channels):
  x = _random_images(4, channels=channels)
  m = similarity.pairwise_ssim(x, x)
  np.testing.assert_allclose(np.diag(m), 1.0, atol=1e-6)
  assert m.max() <= 1.0
  assert np.all(m[~np.eye(4, dtype=bool)] < 0.5)  # Independent noise images.


def test_ssim_of_constant_images_by_hand():
  # Constant images have zero (co)variance: cs = c2 / c2 = 1 and SSIM is the
  # luminance term. 0 -> 1 and 0.5 -> 1.5 after the shift to [0, 2].
  a = np.zeros((1, 12, 12, 1), np.float32)
  b = np.full((1, 12, 12, 1), 0.5, np.float32)
  expected = (2 * 1.0 * 1.5 + C1) / (1.0**2 + 1.5**2 + C1)
  assert similarity.pairwise_ssim(a, b)[0, 0] == pytest.approx(expected, rel=1e-6)
  # Black vs white: (0 + c1) / (0 + 4 + c1).
  black, white = -np.ones_like(a), np.ones_like(a)
  assert similarity.pairwise_ssim(black, white)[0, 0] == pytest.approx(C1 / (4 + C1), rel=1e-4)


def test_ssim_matches_float64_reference_and_tf_image_ssim():
  x = _random_images(3, size=14, channels=3, seed=1)
  y = _random_images(4, size=14, channels=3, seed=2) * 0.5 + 0.3 * x[[0, 1, 2, 0]]
  y = np.clip(y, -1, 1)
  ours = similarity.pairwise_ssim(x, y)
  reference = np.array([[_ssim_float64(a, b) for b in y] for a in x])
  np.testing.assert_allclose(ours, reference, atol=1e-5)
  tf_ssim = tf.image.ssim(x[:, None] + 1.0, y[None] + 1.0, max_val=2.0).numpy()
  np.testing.assert_allclose(ours, tf_ssim, atol=2e-4)


def test_ssim_equals_ssim_of_unit_range_images():
  # Shift to [0, 2] with max_val 2 == [0, 1] images with max_val 1.
  x, y = _random_images(2, seed=3), _random_images(3, seed=4)
  unit = tf.image.ssim((x[:, None] + 1) / 2, (y[None] + 1) / 2, max_val=1.0).numpy()
  np.testing.assert_allclose(similarity.pairwise_ssim(x, y), unit, atol=2e-5)


def test_small_images_need_a_smaller_filter():
  x = _random_images(2, size=8)
  with pytest.raises(ValueError, match='filter_size'):
    similarity.pairwise_ssim(x, x)
  ours = similarity.pairwise_ssim(x, x[::-1], filter_size=3)
  expected = tf.image.ssim(x + 1, x[::-1] + 1, max_val=2.0, filter_size=3).numpy()
  np.testing.assert_allclose(np.diag(ours[:, ::-1]), 1.0, atol=1e-6)
  np.testing.assert_allclose(ours[[0, 1], [0, 1]], expected, atol=2e-5)


def test_psnr_of_constant_offset_by_hand():
  x = _random_images(3, low=-0.5, high=0.5)
  c = 0.1
  expected = 20 * math.log10(2.0) - 10 * math.log10(c**2)  # 26.0206 dB.
  m = similarity.pairwise_psnr(x, x + c)
  np.testing.assert_allclose(np.diag(m), expected, rtol=1e-5)
  np.testing.assert_allclose(m, tf.image.psnr(x[:, None], x[None] + c, 2.0).numpy(), rtol=1e-6)
  assert np.all(m[~np.eye(3, dtype=bool)] < expected)


def test_nearest_neighbour_finds_the_image_among_decoys():
  references = _random_images(9, size=16, seed=5)
  images = references[[3, 7]].copy()
  images[1] = np.clip(images[1] + 0.01, -1, 1)  # Near, not equal.
  ssim, ssim_index = similarity.nearest_neighbour_ssim(images, references, return_index=True)
  psnr, psnr_index = similarity.nearest_neighbour_psnr(images, references, return_index=True)
  np.testing.assert_array_equal(ssim_index, [3, 7])
  np.testing.assert_array_equal(psnr_index, [3, 7])
  assert ssim[0] == pytest.approx(1.0, abs=1e-6) and ssim[0] <= 1.0
  assert 0.9 < ssim[1] < 1.0
  assert psnr[0] == math.inf
  assert 30 < psnr[1] < math.inf
  pairwise = similarity.pairwise_ssim(images, references)
  np.testing.assert_allclose(ssim, pairwise.max(axis=1))


@pytest.mark.parametrize('batch_size', [1, 5, 7, 1000])
def test_chunking_does_not_change_the_result(batch_size):
  x, y = _random_images(5, seed=6), _random_images(7, seed=7)
  full = similarity.pairwise_ssim(x, y, batch_size=10_000)
  np.testing.assert_allclose(similarity.pairwise_ssim(x, y, batch_size=batch_size), full,
                             atol=1e-6)
  np.testing.assert_allclose(similarity.nearest_neighbour_ssim(x, y, batch_size=batch_size),
                             full.max(axis=1), atol=1e-6)
  psnr = similarity.pairwise_psnr(x, y)
  np.testing.assert_allclose(similarity.nearest_neighbour_psnr(x, y, batch_size=batch_size),
                             psnr.max(axis=1), rtol=1e-6)


def test_summarize_by_hand():
  assert similarity.summarize([1, 2, 3, 4, 5]) == {'mean': 3.0, 'p95': pytest.approx(4.8)}
  assert similarity.summarize([7.5]) == {'mean': 7.5, 'p95': 7.5}
  values = np.random.default_rng(0).normal(size=37)
  summary = similarity.summarize(values)
  assert summary['p95'] == pytest.approx(np.percentile(values, 95))
  assert summary['mean'] == pytest.approx(values.mean())


def test_summarize_with_inf():
  # One exact copy makes the mean inf; the p95 only if it reaches the inf.
  summary = similarity.summarize([10.0, 20.0, 30.0, math.inf])
  assert summary == {'mean': math.inf, 'p95': math.inf}
  values = np.concatenate([np.arange(99.0), [math.inf]])  # Position 94.05 < 99.
  summary = similarity.summarize(values)
  assert summary['mean'] == math.inf
  assert summary['p95'] == pytest.approx(94.05)
  assert similarity.summarize([math.inf, math.inf]) == {'mean': math.inf, 'p95': math.inf}


@pytest.mark.parametrize('values, match', [
    ([], 'empty'), ([1.0, math.nan], 'NaN'), ([-math.inf, 1.0], 'inf'), ([[1.0]], '1-D'),
])
def test_summarize_rejects_bad_values(values, match):
  with pytest.raises(ValueError, match=match):
    similarity.summarize(values)
  with pytest.raises(ValueError, match='percentile'):
    similarity.summarize([1.0], percentile=101)


def test_pixel_variance_by_hand():
  checker = np.where(np.indices((12, 12)).sum(axis=0) % 2, 1.0, -1.0)[..., None]
  images = np.stack([checker, np.zeros((12, 12, 1))]).astype(np.float32)
  assert similarity.pixel_variance(images) == pytest.approx(0.5)  # (1 + 0) / 2.
  assert similarity.pixel_variance(images * 0.5) == pytest.approx(0.125)
  x = _random_images(3, channels=3)
  expected = float(losses.pixel_variance(tf.constant(x)))
  assert similarity.pixel_variance(x) == pytest.approx(expected, rel=1e-5)


def test_mean_pairwise_ssim_is_one_for_copies_and_the_mean_of_tf_image_ssim():
  rng = np.random.default_rng(3)
  one = rng.uniform(-1, 1, (1, 16, 16, 1)).astype(np.float32)
  assert similarity.mean_pairwise_ssim(np.repeat(one, 4, axis=0)) == pytest.approx(1.0)
  images = rng.uniform(-1, 1, (3, 16, 16, 1)).astype(np.float32)
  by_tf = [float(tf.image.ssim(images[i] + 1, images[j] + 1, max_val=2.0))
           for i in range(3) for j in range(3) if i != j]
  assert similarity.mean_pairwise_ssim(images) == pytest.approx(np.mean(by_tf), abs=1e-4)
  # Only the first `max_images` are compared.
  assert similarity.mean_pairwise_ssim(
      np.concatenate([np.repeat(one, 2, axis=0), images]), max_images=2) == pytest.approx(1.0)
  with pytest.raises(ValueError, match='at least 2'):
    similarity.mean_pairwise_ssim(one)
