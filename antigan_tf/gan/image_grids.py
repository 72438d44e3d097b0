"""Image grids: a batch of images tiled into one picture, and saved as a PNG.

What the run directories hold to show G(z), X, X' and the attackers'
reconstructions at a glance. Images are (N, H, W, C) arrays in [-1, 1].
"""

import math
import os

import numpy as np

from antigan_tf.utils import checks

# Border between the tiles of an image grid, in pixels, and its grey level.
GRID_PADDING = 1
GRID_PADDING_VALUE = 255


def image_grid(images, *, padding: int = GRID_PADDING) -> np.ndarray:
  """Tiles images in [-1, 1] into one uint8 grid image.

  The grid has ceil(sqrt(N)) columns and as many rows as needed; tiles are
  separated (and surrounded) by `padding` white pixels.

  Args:
    images: (N, H, W, C) array with C in {1, 3}, values in [-1, 1] (clipped).
    padding: border width in pixels (>= 0).

  Returns:
    uint8 array (rows * (H + p) + p, cols * (W + p) + p) for C = 1, with a
    trailing axis of 3 for C = 3.

  Raises:
    ValueError: on an empty batch or an unsupported shape.
  """
  images = np.asarray(images, np.float32)
  if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] == 0:
    raise ValueError(
        f'`images` must be a non-empty (N, H, W, C) array with C in {{1, 3}}, '
        f'got shape {images.shape}.')
  padding = checks.check_int(padding, 'padding', 0)
  n, height, width, channels = images.shape
  cols = int(math.ceil(math.sqrt(n)))
  rows = int(math.ceil(n / cols))
  pixels = np.rint((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
  grid = np.full(
      (rows * (height + padding) + padding, cols * (width + padding) + padding, channels),
      GRID_PADDING_VALUE, np.uint8)
  for i in range(n):
    r, c = divmod(i, cols)
    top = padding + r * (height + padding)
    left = padding + c * (width + padding)
    grid[top:top + height, left:left + width] = pixels[i]
  return grid[..., 0] if channels == 1 else grid


def save_image_grid(images, path: str, *, padding: int = GRID_PADDING) -> str:
  """Writes `image_grid(images)` as a PNG (atomically: temp file + rename).

  Args:
    images: (N, H, W, C) array in [-1, 1], C in {1, 3}.
    path: the .png file to write; its directory is created if needed.
    padding: border width in pixels.

  Returns:
    `path`.

  Raises:
    ImportError: Pillow is not installed.
    ValueError: see `image_grid`.
  """
  try:
    from PIL import Image  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise ImportError(
        'Writing PNG image grids needs Pillow: pip install Pillow '
        '(pinned in requirements/lock.txt).') from None
  grid = image_grid(images, padding=padding)
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  tmp = f'{path}.tmp'
  Image.fromarray(grid, mode='L' if grid.ndim == 2 else 'RGB').save(tmp, format='PNG')
  os.replace(tmp, path)
  return path
