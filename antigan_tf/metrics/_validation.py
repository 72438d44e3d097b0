"""Argument checks shared by the metrics (numpy only).

Every check raises `ValueError` with a message that names the argument and
says what was expected, so a bad call fails before any TF work starts.
"""

from typing import Optional

import numpy as np

from antigan_tf.data import images as images_lib
from antigan_tf.utils import checks

# The package's one image check (the metrics' functions use it at their entry).
check_images = images_lib.check_images
RANGE_TOLERANCE = images_lib.RANGE_TOLERANCE


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
  return checks.check_unit_interval(value, argname)
