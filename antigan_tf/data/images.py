"""The one check of image and label arrays that the package's functions take.

Every public function that takes images (the defender, the attackers, the
metrics) checks them here, once, at its entry: float32 (N, H, W, C) in
[-1, 1]. Loaders normalise raw data into that form (`sources.validate_images`).
Numpy only.
"""

from typing import Optional

import numpy as np

# Images are in [-1, 1]; values this far outside are round-off (e.g. a tanh
# output pushed through float16) and are clipped, anything further is an error.
RANGE_TOLERANCE = 1e-3


def check_images(
    images, argname: str, *, min_count: int = 1, image_shape: Optional[tuple] = None,
) -> np.ndarray:
  """A float32 (N, H, W, C) copy of `images`, values clipped to [-1, 1].

  Args:
    images: array-like (or tensor) of real numbers, shape (N, H, W, C).
    argname: name used in error messages.
    min_count: the least number of images N accepted.
    image_shape: if given, the (H, W, C) every image must have.

  Returns:
    A new C-contiguous float32 array with values in [-1, 1] (values within
    `RANGE_TOLERANCE` outside are clipped).

  Raises:
    ValueError: not numeric, not 4-D, fewer than `min_count` images, another
      (H, W, C) than `image_shape`, NaN/inf, or values outside [-1, 1] by more
      than `RANGE_TOLERANCE`.
  """
  if hasattr(images, 'numpy'):  # A tf.Tensor or tf.Variable.
    images = images.numpy()
  try:
    array = np.asarray(images)
  except (TypeError, ValueError) as e:
    raise ValueError(f'`{argname}` must be an array of images, got '
                     f'{type(images).__name__}: {e}') from None
  if array.dtype == bool or not (np.issubdtype(array.dtype, np.floating)
                                 or np.issubdtype(array.dtype, np.integer)):
    raise ValueError(f'`{argname}` must hold real numbers, got dtype {array.dtype}.')
  if array.ndim != 4:
    raise ValueError(
        f'`{argname}` must have shape (N, H, W, C), got shape {array.shape}; add a '
        'channel axis with x[..., None] or a batch axis with x[None].')
  if array.shape[0] < min_count:
    what = 'is empty' if array.shape[0] == 0 else f'has {array.shape[0]} images'
    raise ValueError(f'`{argname}` {what}; at least {min_count} image(s) needed '
                     f'(shape {array.shape}).')
  if 0 in array.shape[1:]:
    raise ValueError(f'`{argname}` has empty images, shape {array.shape}.')
  if image_shape is not None and tuple(array.shape[1:]) != tuple(image_shape):
    raise ValueError(f'`{argname}` images have shape (H, W, C) = {tuple(array.shape[1:])}, '
                     f'expected {tuple(image_shape)}: `{argname}` must have shape '
                     f'(N, {", ".join(map(str, image_shape))}), got {array.shape}.')
  array = array.astype(np.float32)  # Always a copy.
  bad = int(array.size - np.count_nonzero(np.isfinite(array)))
  if bad:
    raise ValueError(f'`{argname}` has {bad} NaN/inf values; images must be finite, in [-1, 1].')
  lo, hi = float(array.min()), float(array.max())
  if lo < -1.0 - RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE:
    raise ValueError(
        f'`{argname}` pixel values must lie in [-1, 1] (tolerance {RANGE_TOLERANCE}), got '
        f'min {lo:.6g} and max {hi:.6g}; map [0, 1] images with 2x - 1 and uint8 with '
        'x / 127.5 - 1.')
  np.clip(array, -1.0, 1.0, out=array)
  return np.ascontiguousarray(array)
