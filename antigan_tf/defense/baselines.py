"""Baseline defenses: what a reviewer compares Anti-GAN with.

Each maps the victim's images of the protected classes to what it shares,
with one strength parameter; images of other classes pass through. They are
the simple alternatives to a trained generator:

- `gaussian_blur(sigma)`: a Gaussian blur of standard deviation `sigma`
  pixels (`scipy.ndimage.gaussian_filter`, reflected borders);
- `gaussian_noise(std)`: i.i.d. Gaussian pixel noise of standard deviation
  `std` (pixels in [-1, 1], so std 0.5 is a quarter of the range), clipped;
- `pixelate(block)`: each `block` x `block` block replaced by its mean
  (`tf.image.resize`, area down, nearest up);
- `drop_class`: the victim shares no image of the protected classes. It is
  the floor: nothing leaks, and the federation learns nothing of the class
  from the victim.

All work on float images in [-1, 1] of shape (N, H, W, C) and return float32
images in [-1, 1]; the noise is drawn from `seed`, so a baseline is a
deterministic function of its inputs.
"""

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
from scipy import ndimage

from antigan_tf.defense.config import BASELINE_DEFENSES as BASELINES
from antigan_tf.utils import checks


def gaussian_blur(images: np.ndarray, *, sigma: float) -> np.ndarray:
  """Blurs each image and channel with a Gaussian of `sigma` (> 0) pixels."""
  sigma = checks.check_positive_float(sigma, 'sigma')
  images = np.asarray(images, np.float32)
  return ndimage.gaussian_filter(images, sigma=(0, sigma, sigma, 0), mode='reflect')


def gaussian_noise(images: np.ndarray, *, std: float, seed: int = 0) -> np.ndarray:
  """Adds N(0, std^2) noise (std > 0) to every pixel, clipped to [-1, 1]."""
  std = checks.check_positive_float(std, 'std')
  seed = checks.check_int(seed, 'seed', 0)
  images = np.asarray(images, np.float32)
  noise = np.random.default_rng(seed).normal(0.0, std, images.shape).astype(np.float32)
  return np.clip(images + noise, -1.0, 1.0)


def pixelate(images: np.ndarray, *, block: int) -> np.ndarray:
  """Replaces each `block` x `block` block (>= 2) by its mean.

  Blocks at the bottom and right edges are partial when `block` does not
  divide H or W (the area resize then averages what is there).
  """
  block = checks.check_int(block, 'block', 2)
  images = np.asarray(images, np.float32)
  height, width = images.shape[1:3]
  if block > min(height, width):
    raise ValueError(f'`block` ({block}) must not exceed the image size '
                     f'({height} x {width}).')
  small = tf.image.resize(images, [math.ceil(height / block), math.ceil(width / block)],
                          method='area')
  # Nearest-neighbour back up gives each block one value.
  return tf.image.resize(small, [height, width], method='nearest').numpy()


def apply_baseline(name: str, x: np.ndarray, y: np.ndarray, *,
                   protected_classes: Sequence[int], strength=None,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Applies baseline `name` to the images of `protected_classes`.

  Args:
    name: one of `BASELINES`.
    x: (N, H, W, C) images in [-1, 1].
    y: (N,) integer labels.
    protected_classes: the classes the baseline changes (or drops).
    strength: sigma, std or block for the first three; unused by
      'drop_class'.
    seed: seed of the noise.

  Returns:
    (x', y'): the unprotected images unchanged and first, then the protected
    ones transformed (none for 'drop_class'); float32 images, y's dtype.

  Raises:
    ValueError: an unknown name or a bad strength.
  """
  if name not in BASELINES:
    raise ValueError(f'`name` must be one of {", ".join(BASELINES)}, got {name!r}.')
  x = np.asarray(x, np.float32)
  y = np.asarray(y)
  protected = np.isin(y, [int(c) for c in protected_classes])
  kept_x, kept_y = x[~protected], y[~protected]
  if name == 'drop_class':
    return kept_x, kept_y
  x_p = x[protected]
  if name == 'gaussian_blur':
    x_p = gaussian_blur(x_p, sigma=strength)
  elif name == 'gaussian_noise':
    x_p = gaussian_noise(x_p, std=strength, seed=seed)
  else:
    x_p = pixelate(x_p, block=strength)
  return (np.concatenate([kept_x, x_p.astype(np.float32)]),
          np.concatenate([kept_y, y[protected]]))
