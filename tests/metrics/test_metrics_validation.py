"""Every image-set argument is checked, with errors naming the argument."""

import numpy as np
import pytest

from antigan_tf import metrics

GOOD = np.zeros((3, 12, 12, 1), np.float32)
GOOD[:, ::2] = 0.5  # Non-constant: pixel variance > 0.

# (function taking (first, second) image sets, names of the two arguments).
PAIR_FUNCTIONS = [
    (metrics.nearest_neighbour_ssim, ('images', 'references')),
    (metrics.nearest_neighbour_psnr, ('images', 'references')),
    (metrics.pairwise_ssim, ('images', 'references')),
    (metrics.pairwise_psnr, ('images', 'references')),
    (metrics.leakage_report, ('reconstructions', 'real_target_images')),
    (metrics.defended_data_report, ('x_prime', 'x')),
]


def _bad_inputs():
  nan = GOOD.copy()
  nan[0, 0, 0, 0] = np.nan
  return [
      (GOOD[:0], 'empty'),
      (GOOD[0], 'shape'),
      (nan, 'NaN'),
      (GOOD + 1.01, r'\[-1, 1\]'),
      (GOOD - 1.002, r'\[-1, 1\]'),
      (GOOD.astype(bool), 'real numbers'),
      (np.full_like(GOOD, 200, dtype=np.uint8), r'\[-1, 1\]'),
  ]


@pytest.mark.parametrize('function, names', PAIR_FUNCTIONS)
@pytest.mark.parametrize('position', [0, 1])
def test_bad_image_sets_name_the_argument(function, names, position):
  for bad, what in _bad_inputs():
    args = [GOOD, GOOD]
    args[position] = bad
    with pytest.raises(ValueError, match=f'`{names[position]}`.*{what}'):
      function(*args)


@pytest.mark.parametrize('function, names', PAIR_FUNCTIONS)
def test_mismatched_image_sets_name_both_arguments(function, names):
  first, second = names
  with pytest.raises(ValueError, match=f'`{first}` and `{second}`.*different channel counts'):
    function(GOOD, np.repeat(GOOD, 3, axis=-1))
  with pytest.raises(ValueError, match=f'`{first}` and `{second}`.*same image shape'):
    function(GOOD, np.zeros((3, 16, 12, 1), np.float32))


def test_values_within_tolerance_are_clipped():
  slightly_out = GOOD.copy()
  slightly_out[0, 0, 0, 0] = 1.0005
  slightly_out[1, 0, 0, 0] = -1.0005
  np.testing.assert_allclose(metrics.nearest_neighbour_psnr(slightly_out, slightly_out), np.inf)
  assert metrics.pixel_variance(slightly_out) == pytest.approx(
      metrics.pixel_variance(np.clip(slightly_out, -1, 1)))


@pytest.mark.parametrize('function', [metrics.nearest_neighbour_ssim,
                                      metrics.nearest_neighbour_psnr])
def test_bad_numbers_name_the_argument(function):
  with pytest.raises(ValueError, match='max_val'):
    function(GOOD, GOOD, max_val=0)
  with pytest.raises(ValueError, match='batch_size'):
    function(GOOD, GOOD, batch_size=0)


def test_single_set_functions_name_the_argument():
  with pytest.raises(ValueError, match='`images`.*empty'):
    metrics.pixel_variance(GOOD[:0])
  with pytest.raises(ValueError, match='`images`.*NaN'):
    metrics.pixel_variance(GOOD * np.nan)
  with pytest.raises(ValueError, match='`x_real_target`'):
    metrics.riafi(lambda x: x, GOOD + 3, 0)
