"""Image grids of `antigan_tf.gan.image_grids`."""

import numpy as np
from PIL import Image
import pytest

from antigan_tf.gan import image_grids


def test_image_grid_layout_and_pixel_mapping():
  images = np.full((10, 8, 6, 1), -1.0, np.float32)
  images[3] = 1.0
  grid = image_grids.image_grid(images, padding=1)
  # ceil(sqrt(10)) = 4 columns, 3 rows, 1-pixel white borders.
  assert grid.shape == (3 * 9 + 1, 4 * 7 + 1) and grid.dtype == np.uint8
  assert grid[0].min() == 255  # Top border.
  assert grid[1:9, 1:7].max() == 0  # Tile 0: -1 -> 0.
  assert grid[1:9, 1 + 3 * 7:7 + 3 * 7].min() == 255  # Tile 3: +1 -> 255.
  rgb = image_grids.image_grid(np.zeros((4, 8, 8, 3), np.float32), padding=0)
  assert rgb.shape == (16, 16, 3) and np.all(rgb == 128)  # 0 -> 127.5 -> 128.
  with pytest.raises(ValueError, match='shape'):
    image_grids.image_grid(np.zeros((0, 8, 8, 1)))
  with pytest.raises(ValueError, match='C in'):
    image_grids.image_grid(np.zeros((2, 8, 8, 2)))


def test_save_image_grid_writes_the_grid_as_png_and_leaves_no_temp_file(tmp_path):
  images = np.linspace(-1.0, 1.0, 4 * 4 * 4 * 3, dtype=np.float32).reshape(4, 4, 4, 3)
  path = tmp_path / 'new' / 'grid.png'
  assert image_grids.save_image_grid(images, str(path), padding=2) == str(path)
  assert sorted(p.name for p in path.parent.iterdir()) == ['grid.png']
  with Image.open(path) as png:
    assert png.mode == 'RGB'
    np.testing.assert_array_equal(np.asarray(png), image_grids.image_grid(images, padding=2))
