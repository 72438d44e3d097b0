"""Image-space similarity between two image sets: SSIM, PSNR, pixel variance.

The leakage question is "does some reconstruction look like some real image?",
so the metrics here are nearest-neighbour ones: for every image of one set, the
best score against all images of the other set.

* SSIM (Wang et al., 2004) is `tf.image.ssim`'s definition: 11x11 Gaussian
  window (sigma 1.5), k1 = 0.01, k2 = 0.03, mean over window positions and
  channels. `tf.image.ssim` wants non-negative pixels, so [-1, 1] images are
  shifted to [0, 2] first; with `max_val=2.0` (the dynamic range of [-1, 1])
  this is exactly the SSIM of the same images mapped to [0, 1] with
  `max_val=1.0`.
  All pairs are needed (1000 reconstructions x 6000 real images are 6 million
  pairs), and broadcasting `tf.image.ssim` runs ~1,400 pairs/s on two CPU
  cores (over an hour). So the same formula is evaluated here per chunk of
  pairs, with the window sums of x*y as one batched matmul of image patches
  and the single-image window sums as separable filters (~60,000-80,000
  28x28 pairs/s on two shared cores: 1-1.5 minutes for 1000 x 6000). Images are centered before the
  covariances are taken, so this is closer to a float64 evaluation (~1e-6)
  than `tf.image.ssim`'s own float32 result is (~1e-5 to 1e-4); both are
  tested. An image against itself scores 1.
* PSNR is `tf.image.psnr` on broadcast pairs: 20 log10(max_val) -
  10 log10(MSE). Identical images have MSE 0 and PSNR +inf; the inf is kept
  (an exact copy is the strongest possible leak) and `summarize` handles it.
* `mean_pairwise_ssim` is the SSIM between the images of one set, averaged
  over distinct pairs: a diversity measure (one image repeated scores 1; real
  Fashion-MNIST shirts 0.12-0.15), for telling a mode-collapsed generator from
  one that covers the class.
* Pixel variance is the paper's Var(G(z)): each image's variance over all its
  pixels and channels, averaged over the images.

All inputs are (N, H, W, C) arrays in [-1, 1] (see `_validation.check_images`).
"""

import math
from typing import Optional, Union

import numpy as np
import tensorflow as tf

from antigan_tf.gan import losses
from antigan_tf.metrics import _validation
from antigan_tf.utils import checks

DEFAULT_MAX_VAL = 2.0  # Dynamic range of images in [-1, 1].
SSIM_FILTER_SIZE = 11
SSIM_FILTER_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
PERCENTILE = 95.0
# Rough size of the largest intermediate array of one chunk, used when
# `batch_size` is None. A chunk holds several arrays of this size.
_CHUNK_BYTES = 16 * 2**20
# Memory for the patches of one chunk of references.
_PATCH_BYTES = 64 * 2**20


def _num_windows(height: int, width: int, filter_size: int) -> int:
  return (height - filter_size + 1) * (width - filter_size + 1)


def _check_filter(images: np.ndarray, filter_size, filter_sigma, names: str) -> tuple[int, float]:
  filter_size = checks.check_int(filter_size, 'filter_size', 1)
  filter_sigma = checks.check_positive_float(filter_sigma, 'filter_sigma')
  height, width = images.shape[1:3]
  if height < filter_size or width < filter_size:
    raise ValueError(
        f'SSIM needs images at least `filter_size` x `filter_size` = {filter_size} x '
        f'{filter_size}, but {names} are {height} x {width}; pass a smaller '
        '`filter_size` (odd, e.g. 3 or 7).')
  return filter_size, filter_sigma


def _gaussian_1d(filter_size: int, filter_sigma: float) -> np.ndarray:
  """The 1-D factor g of `tf.image.ssim`'s window outer(g, g) (sums to 1)."""
  coords = np.arange(filter_size, dtype=np.float64) - (filter_size - 1) / 2.0
  g = np.exp(-0.5 * np.square(coords) / filter_sigma**2)
  return g / g.sum()


def _gaussian_window(filter_size: int, filter_sigma: float) -> np.ndarray:
  """The flattened (filter_size**2,) window of `tf.image.ssim` (sums to 1)."""
  g = _gaussian_1d(filter_size, filter_sigma)
  return np.outer(g, g).reshape(-1).astype(np.float32)


def _band_matrix(length: int, filter_size: int, filter_sigma: float) -> np.ndarray:
  """(length - filter_size + 1, length) matrix of 1-D 'VALID' filtering by g."""
  g = _gaussian_1d(filter_size, filter_sigma)
  band = np.zeros((length - filter_size + 1, length))
  for start in range(len(band)):
    band[start, start:start + filter_size] = g
  return band.astype(np.float32)


def _patch_indices(height: int, width: int, filter_size: int) -> np.ndarray:
  """(P, K) flat pixel indices of every 'VALID' window, row-major like the band filters."""
  rows, cols = np.meshgrid(np.arange(height - filter_size + 1),
                           np.arange(width - filter_size + 1), indexing='ij')
  k_rows, k_cols = np.meshgrid(np.arange(filter_size), np.arange(filter_size), indexing='ij')
  index = ((rows.reshape(-1, 1) + k_rows.reshape(1, -1)) * width
           + cols.reshape(-1, 1) + k_cols.reshape(1, -1))
  return index.astype(np.int32)


def _chunk_sizes(
    num_images: int, num_references: int, batch_size: Optional[int],
    pair_bytes: int, reference_bytes: int,
) -> tuple[int, int]:
  """(images per chunk, references per chunk) for a pair budget."""
  if batch_size is None:
    batch_size = max(1, _CHUNK_BYTES // max(1, pair_bytes))
  refs = min(num_references, batch_size, max(1, _PATCH_BYTES // max(1, reference_bytes)))
  imgs = min(num_images, max(1, batch_size // refs))
  return imgs, refs


@tf.function(reduce_retracing=True)
def _ssim_stats(images, index, band_rows, band_cols):
  """Patches and window statistics of a set of images shifted to [0, 2].

  Images are centered first (minus each image's per-channel mean): SSIM's
  covariances do not change, and float32 round-off shrinks. The window is
  separable, so window sums of single images are two band-matrix products;
  only the pair term (window sums of x*y) needs the patches.

  Returns:
    patches (C, P, K, n) of the centered images; window means s (C, P, n)
    of the centered images; window variances v (C, P, n); window means m
    (C, P, n) of the images.
  """
  n = tf.shape(images)[0]
  channels = tf.shape(images)[3]
  mu = tf.reduce_mean(images, axis=[1, 2])  # (n, C)
  centered = images - mu[:, tf.newaxis, tf.newaxis, :]

  def window_mean(values):  # (n, H, W, C) -> (C, P, n)
    rows = tf.einsum('ph,nhwc->npwc', band_rows, values)
    both = tf.einsum('qw,npwc->cpqn', band_cols, rows)
    return tf.reshape(both, [channels, -1, n])

  s = window_mean(centered)
  v = window_mean(tf.square(centered)) - tf.square(s)
  m = s + tf.transpose(mu)[:, tf.newaxis, :]
  flat = tf.transpose(tf.reshape(centered, [n, -1, channels]), [2, 1, 0])  # (C, HW, n)
  patches = tf.gather(flat, index, axis=1)  # (C, P, K, n)
  return patches, s, v, m


@tf.function(reduce_retracing=True)
def _ssim_block(x_stats, y_stats, c1, c2):
  """(a, b) SSIM of every pair of a chunk of images and a chunk of references."""
  xp, sx, vx, mx = x_stats  # xp: patches times the window.
  yp, sy, vy, my = y_stats
  cross = tf.matmul(xp, yp, transpose_a=True)  # (C, P, a, b) window sums of xc*yc.
  cov = cross - sx[..., :, tf.newaxis] * sy[..., tf.newaxis, :]
  cs = (2.0 * cov + c2) / (vx[..., :, tf.newaxis] + vy[..., tf.newaxis, :] + c2)
  luminance = ((2.0 * mx[..., :, tf.newaxis] * my[..., tf.newaxis, :] + c1)
               / (tf.square(mx)[..., :, tf.newaxis] + tf.square(my)[..., tf.newaxis, :] + c1))
  return tf.reduce_mean(luminance * cs, axis=[0, 1])


@tf.function(reduce_retracing=True)
def _psnr_block(x, y, max_val):
  return tf.image.psnr(x[:, tf.newaxis], y[tf.newaxis], max_val)


def _ssim_blocks(images, references, *, max_val, filter_size, filter_sigma, k1, k2, batch_size):
  """Yields (image slice, reference slice, (a, b) SSIM block) over all pairs."""
  num_windows = _num_windows(images.shape[1], images.shape[2], filter_size)
  channels = images.shape[3]
  imgs, refs = _chunk_sizes(
      len(images), len(references), batch_size,
      pair_bytes=4 * channels * num_windows,
      reference_bytes=4 * channels * num_windows * filter_size**2)
  height, width = images.shape[1:3]
  window = tf.constant(_gaussian_window(filter_size, filter_sigma))[:, tf.newaxis]
  setup = (tf.constant(_patch_indices(height, width, filter_size)),
           tf.constant(_band_matrix(height, filter_size, filter_sigma)),
           tf.constant(_band_matrix(width, filter_size, filter_sigma)))
  c1 = tf.constant((k1 * max_val)**2, tf.float32)
  c2 = tf.constant((k2 * max_val)**2, tf.float32)
  # Shift [-1, 1] to [0, 2]: tf.image.ssim's luminance term needs pixels >= 0.
  images = images + np.float32(1.0)
  references = references + np.float32(1.0)
  for j in range(0, len(references), refs):
    y_stats = _ssim_stats(tf.constant(references[j:j + refs]), *setup)
    for i in range(0, len(images), imgs):
      patches, *x_stats = _ssim_stats(tf.constant(images[i:i + imgs]), *setup)
      x_stats = (patches * window, *x_stats)
      block = _ssim_block(x_stats, y_stats, c1, c2).numpy()
      # SSIM lies in [-1, 1]; float32 round-off can overshoot by ~1e-7.
      yield slice(i, i + imgs), slice(j, j + refs), np.clip(block, -1.0, 1.0)


def _psnr_blocks(images, references, *, max_val, batch_size):
  pixels = int(np.prod(images.shape[1:]))
  imgs, refs = _chunk_sizes(len(images), len(references), batch_size,
                            pair_bytes=4 * pixels, reference_bytes=4 * pixels)
  max_val = tf.constant(max_val, tf.float32)
  for j in range(0, len(references), refs):
    y = tf.constant(references[j:j + refs])
    for i in range(0, len(images), imgs):
      block = _psnr_block(tf.constant(images[i:i + imgs]), y, max_val).numpy()
      yield slice(i, i + imgs), slice(j, j + refs), block


def _nearest(blocks, num_images: int, return_index: bool):
  best = np.full(num_images, -np.inf)
  index = np.zeros(num_images, np.int64)
  for rows, cols, block in blocks:
    arg = np.argmax(block, axis=1)
    value = block[np.arange(len(block)), arg].astype(np.float64)
    better = value > best[rows]
    best[rows] = np.where(better, value, best[rows])
    index[rows] = np.where(better, arg + cols.start, index[rows])
  return (best, index) if return_index else best


def _check_common(images, references, max_val, batch_size):
  images, references = _validation.check_image_pair(
      images, references, ('images', 'references'))
  max_val = checks.check_positive_float(max_val, 'max_val')
  if batch_size is not None:
    batch_size = checks.check_int(batch_size, 'batch_size', 1)
  return images, references, max_val, batch_size


def pairwise_ssim(
    images,
    references,
    *,
    max_val: float = DEFAULT_MAX_VAL,
    filter_size: int = SSIM_FILTER_SIZE,
    filter_sigma: float = SSIM_FILTER_SIGMA,
    k1: float = SSIM_K1,
    k2: float = SSIM_K2,
    batch_size: Optional[int] = None,
) -> np.ndarray:
  """SSIM of every (image, reference) pair, as `tf.image.ssim` defines it.

  Args:
    images: (N, H, W, C) images in [-1, 1].
    references: (M, H, W, C) images in [-1, 1].
    max_val: dynamic range of the pixels (2.0 for [-1, 1]).
    filter_size: side of the Gaussian window; images must be at least this
      large.
    filter_sigma: width of the Gaussian window.
    k1: luminance stabiliser, c1 = (k1 * max_val)^2.
    k2: contrast-structure stabiliser, c2 = (k2 * max_val)^2.
    batch_size: most (image, reference) pairs per chunk; None picks it from
      the image size (each array of a chunk stays around 16 MB).

  Returns:
    (N, M) float64 array of SSIM values in [-1, 1].

  Raises:
    ValueError: invalid images (empty, not (N, H, W, C), NaN, outside
      [-1, 1]), different image shapes, images smaller than the window, or a
      bad number.
  """
  images, references, max_val, batch_size = _check_common(
      images, references, max_val, batch_size)
  filter_size, filter_sigma = _check_filter(images, filter_size, filter_sigma, '`images`')
  k1 = checks.check_positive_float(k1, 'k1')
  k2 = checks.check_positive_float(k2, 'k2')
  out = np.empty((len(images), len(references)))
  for rows, cols, block in _ssim_blocks(
      images, references, max_val=max_val, filter_size=filter_size,
      filter_sigma=filter_sigma, k1=k1, k2=k2, batch_size=batch_size):
    out[rows, cols] = block
  return out


def pairwise_psnr(
    images, references, *, max_val: float = DEFAULT_MAX_VAL, batch_size: Optional[int] = None,
) -> np.ndarray:
  """`tf.image.psnr` of every (image, reference) pair; +inf for identical images.

  Args:
    images: (N, H, W, C) images in [-1, 1].
    references: (M, H, W, C) images in [-1, 1].
    max_val: dynamic range of the pixels (2.0 for [-1, 1]).
    batch_size: most pairs per chunk; None picks it from the image size.

  Returns:
    (N, M) float64 array of PSNR values in dB (+inf where the MSE is 0).

  Raises:
    ValueError: as `pairwise_ssim`.
  """
  images, references, max_val, batch_size = _check_common(
      images, references, max_val, batch_size)
  out = np.empty((len(images), len(references)))
  for rows, cols, block in _psnr_blocks(images, references, max_val=max_val,
                                        batch_size=batch_size):
    out[rows, cols] = block
  return out


def nearest_neighbour_ssim(
    images,
    references,
    *,
    max_val: float = DEFAULT_MAX_VAL,
    filter_size: int = SSIM_FILTER_SIZE,
    filter_sigma: float = SSIM_FILTER_SIGMA,
    k1: float = SSIM_K1,
    k2: float = SSIM_K2,
    batch_size: Optional[int] = None,
    return_index: bool = False,
) -> Union[np.ndarray, tuple[np.ndarray, np.ndarray]]:
  """For each image, its highest SSIM over all references.

  Computed in chunks of pairs (never the whole (N, M) matrix): with the
  default `batch_size`, 28x28 images need ~350 MB on top of the inputs
  whatever N and M are (1000 x 6000 pairs take about 1.5 minutes on two CPU
  cores).

  Args:
    images: (N, H, W, C) images in [-1, 1], e.g. an attacker's
      reconstructions.
    references: (M, H, W, C) images in [-1, 1], e.g. the victim's real images.
    max_val: dynamic range (2.0 for [-1, 1]).
    filter_size: Gaussian window side.
    filter_sigma: Gaussian window width.
    k1: luminance stabiliser.
    k2: contrast-structure stabiliser.
    batch_size: most pairs per chunk; None: automatic.
    return_index: also return the index of each image's nearest reference
      (the first one on ties).

  Returns:
    (N,) float64 maximum SSIM per image, and with `return_index` also the
    (N,) int64 index of the reference attaining it.

  Raises:
    ValueError: as `pairwise_ssim`.
  """
  images, references, max_val, batch_size = _check_common(
      images, references, max_val, batch_size)
  filter_size, filter_sigma = _check_filter(images, filter_size, filter_sigma, '`images`')
  k1 = checks.check_positive_float(k1, 'k1')
  k2 = checks.check_positive_float(k2, 'k2')
  blocks = _ssim_blocks(images, references, max_val=max_val, filter_size=filter_size,
                        filter_sigma=filter_sigma, k1=k1, k2=k2, batch_size=batch_size)
  return _nearest(blocks, len(images), return_index)


def nearest_neighbour_psnr(
    images,
    references,
    *,
    max_val: float = DEFAULT_MAX_VAL,
    batch_size: Optional[int] = None,
    return_index: bool = False,
) -> Union[np.ndarray, tuple[np.ndarray, np.ndarray]]:
  """For each image, its highest `tf.image.psnr` over all references.

  An image that equals some reference exactly gets +inf (MSE 0). The inf is
  kept rather than capped: it flags an exact copy. `summarize` handles it.

  Args:
    images: (N, H, W, C) images in [-1, 1].
    references: (M, H, W, C) images in [-1, 1].
    max_val: dynamic range (2.0 for [-1, 1]).
    batch_size: most pairs per chunk; None: automatic.
    return_index: also return the index of each image's nearest reference.

  Returns:
    (N,) float64 maximum PSNR in dB per image (possibly +inf), and with
    `return_index` the (N,) int64 index of the reference attaining it.

  Raises:
    ValueError: as `pairwise_psnr`.
  """
  images, references, max_val, batch_size = _check_common(
      images, references, max_val, batch_size)
  blocks = _psnr_blocks(images, references, max_val=max_val, batch_size=batch_size)
  return _nearest(blocks, len(images), return_index)


def summarize(values, *, percentile: float = PERCENTILE) -> dict[str, float]:
  """Mean and 95th percentile of per-image scores (e.g. nearest-neighbour SSIM).

  +inf values (PSNR of exact copies) are allowed and treated as the largest
  values, never turned into NaN:

  * `mean` is +inf as soon as one value is +inf: a single exact copy of a
    real image is a total leak, and averaging it away would hide it.
  * `p95` is numpy's default (linear) percentile of the values; it is +inf
    exactly when the percentile's position falls on or after the first +inf
    in sorted order (linear interpolation towards +inf), so it stays finite
    while fewer than ~5% of the values are +inf.

  Args:
    values: 1-D array-like of scores; finite or +inf.
    percentile: the percentile reported as 'p95', in [0, 100].

  Returns:
    dict(mean=float, p95=float).

  Raises:
    ValueError: empty, not 1-D, NaN or -inf values, or a bad `percentile`.
  """
  array = np.asarray(values, dtype=np.float64)
  if array.ndim != 1:
    raise ValueError(f'`values` must be 1-D, got shape {array.shape}.')
  if array.size == 0:
    raise ValueError('`values` is empty; at least one value needed.')
  if np.any(np.isnan(array)) or np.any(array == -np.inf):
    raise ValueError('`values` has NaN or -inf entries; only finite values and +inf are allowed.')
  percentile = checks.check_non_negative_float(percentile, 'percentile')
  if percentile > 100:
    raise ValueError(f'`percentile` must be in [0, 100], got {percentile!r}.')
  ordered = np.sort(array)
  position = percentile / 100.0 * (len(ordered) - 1)
  lower, upper = math.floor(position), math.ceil(position)
  fraction = position - lower
  if fraction == 0.0:
    p = ordered[lower]
  elif math.isinf(ordered[upper]):
    p = math.inf
  else:
    p = ordered[lower] + fraction * (ordered[upper] - ordered[lower])
  mean = math.inf if math.isinf(ordered[-1]) else float(np.mean(ordered))
  return {'mean': mean, 'p95': float(p)}


def mean_pairwise_ssim(images, *, max_images: int = 200) -> float:
  """Mean SSIM over the distinct pairs of the first `max_images` images.

  Args:
    images: (N, H, W, C) images in [-1, 1], N >= 2.
    max_images: how many images to compare (>= 2); 200 give 19900 pairs (100
      real shirts' values spread over 0.12-0.15 between subsets; 200 halve that).

  Returns:
    The mean, in [-1, 1]: higher means less diverse (1 for one image repeated).

  Raises:
    ValueError: invalid images, fewer than 2, or a bad `max_images`.
  """
  max_images = checks.check_int(max_images, 'max_images', 2)
  images = _validation.check_images(images, 'images')
  if len(images) < 2:
    raise ValueError(f'`images` must hold at least 2 images, got {len(images)}.')
  images = images[:max_images]
  pairs = pairwise_ssim(images, images)
  off_diagonal = ~np.eye(len(images), dtype=bool)
  return float(pairs[off_diagonal].mean())


def pixel_variance(images) -> float:
  """Mean over images of each image's pixel variance (the paper's Var(G(z))).

  The same definition as `antigan_tf.gan.losses.pixel_variance` (population
  variance over all pixels and channels of one image, then the batch mean),
  which it calls, in float64, after checking the images.

  Args:
    images: (N, H, W, C) images in [-1, 1].

  Returns:
    The mean per-image variance, in [0, 1] for images in [-1, 1].

  Raises:
    ValueError: invalid images.
  """
  images = _validation.check_images(images, 'images')
  return float(losses.pixel_variance(tf.constant(images, tf.float64)))
