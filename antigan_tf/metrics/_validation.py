"""Argument checks shared by the metrics (numpy only).

Every check raises `ValueError` with a message that names the argument and
says what was expected, so a bad call fails before any TF work starts.
"""

import math
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
    images: array-like of real numbers, shape (N, H, W, C).
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
                     f'expected {tuple(image_shape)}.')
  array = array.astype(np.float32)  # Always a copy.
  bad = int(array.size - np.count_nonzero(np.isfinite(array)))
  if bad:
    raise ValueError(f'`{argname}` has {bad} NaN/inf values; images must be finite, in [-1, 1].')
  lo, hi = float(array.min()), float(array.max())
  if lo < -1.0 - RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE:
    raise ValueError(
        f'`{argname}` has values in [{lo:.6g}, {hi:.6g}]; images must be in [-1, 1] '
        f'(tolerance {RANGE_TOLERANCE}). Map [0, 1] images with 2x - 1 and uint8 '
        'with x / 127.5 - 1.')
  np.clip(array, -1.0, 1.0, out=array)
  return np.ascontiguousarray(array)


def check_image_pair(
    images, references, names: tuple[str, str], *, min_count: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
  """Checks two image sets with `check_images` and that their (H, W, C) agree."""
  first = check_images(images, names[0], min_count=min_count)
  second = check_images(references, names[1], min_count=min_count)
  if first.shape[1:] != second.shape[1:]:
    raise ValueError(
        f'`{names[0]}` and `{names[1]}` must have the same image shape (H, W, C), got '
        f'{first.shape[1:]} and {second.shape[1:]}'
        + (' (different channel counts)' if first.shape[1:3] == second.shape[1:3] else '')
        + '.')
  return first, second


def check_labels(labels, argname: str, *, num_classes: Optional[int] = None) -> np.ndarray:
  """An int64 (N,) copy of integer-valued labels, N >= 1, in [0, num_classes)."""
  try:
    array = np.asarray(labels)
  except (TypeError, ValueError) as e:
    raise ValueError(f'`{argname}` must be an array of labels: {e}') from None
  if array.ndim != 1:
    raise ValueError(f'`{argname}` must have shape (N,), got shape {array.shape}.')
  if array.size == 0:
    raise ValueError(f'`{argname}` is empty; at least one label needed.')
  if array.dtype == bool:
    raise ValueError(f'`{argname}` must hold integer labels, got dtype bool.')
  if np.issubdtype(array.dtype, np.floating):
    if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
      raise ValueError(f'`{argname}` must hold whole-number labels (found NaN/inf or fractions).')
  elif not np.issubdtype(array.dtype, np.integer):
    raise ValueError(f'`{argname}` must hold integer labels, got dtype {array.dtype}.')
  array = array.astype(np.int64)
  expected = 'non-negative labels' if num_classes is None else f'labels in [0, {num_classes})'
  if array.min() < 0 or (num_classes is not None and array.max() >= num_classes):
    raise ValueError(f'`{argname}` has labels in [{array.min()}, {array.max()}]; '
                     f'expected {expected}.')
  return array


def check_scores(scores, argname: str, *, count: Optional[int] = None) -> np.ndarray:
  """A float64 (N, K) copy of finite logits or probabilities, K >= 1."""
  array = np.asarray(scores)
  if array.ndim != 2 or array.shape[1] < 1:
    raise ValueError(f'`{argname}` must have shape (N, num_classes), got shape {array.shape}.')
  if count is not None and array.shape[0] != count:
    raise ValueError(f'`{argname}` has {array.shape[0]} rows, expected {count}.')
  if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
    raise ValueError(f'`{argname}` must hold numbers, got dtype {array.dtype}.')
  array = array.astype(np.float64)
  if not np.all(np.isfinite(array)):
    raise ValueError(f'`{argname}` has NaN/inf scores.')
  return array


def check_unit_interval(value, argname: str) -> float:
  """A finite number in [0, 1], as a Python float."""
  if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
    raise ValueError(f'`{argname}` must be a number in [0, 1], got {value!r}.')
  number = float(value)
  if not math.isfinite(number) or not 0.0 <= number <= 1.0:
    raise ValueError(f'`{argname}` must be finite and in [0, 1], got {value!r}.')
  return number
