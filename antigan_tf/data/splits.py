"""Local data's train/test split and label checks (`sources.load_local`).

A plain x/y .npz serves both splits: `held_out_split` holds out a seeded,
stratified share of each class as the test split, the same on every call.
`check_no_label_gaps` refuses labels that leave classes without an image
(a stray 255 would make a 256-class model). Plain numpy.
"""

from absl import logging
import numpy as np

# A plain x/y npz: the share of each class held out as its test split.
PLAIN_NPZ_TEST_FRACTION = 1 / 7
PLAIN_NPZ_SPLIT_SEED = 0


def held_out_split(x: np.ndarray, y: np.ndarray, split: str, source: str):
  """The train or test part of a plain x/y set: per class, a seeded
  `PLAIN_NPZ_TEST_FRACTION` (rounded; none of a class with one image) is test."""
  labels = np.asarray(y).reshape(len(y), -1)[:, 0]
  rng = np.random.default_rng(PLAIN_NPZ_SPLIT_SEED)
  test = np.zeros(len(labels), bool)
  for c in np.unique(labels):
    members = rng.permutation(np.flatnonzero(labels == c))
    test[members[:int(round(len(members) * PLAIN_NPZ_TEST_FRACTION))]] = True
  logging.info('%s holds plain x/y: %d of its %d images (1/7 of each class, seed %d) are the '
               'test split, the rest the train split.', source, int(test.sum()), len(labels),
               PLAIN_NPZ_SPLIT_SEED)
  keep = test if split == 'test' else ~test
  return x[keep], y[keep]


def check_no_label_gaps(y: np.ndarray, source: str) -> None:
  """Refuses labels that leave a class below the largest without an image.

  Raises:
    ValueError: naming `source` and the labels found.
  """
  labels = np.unique(np.asarray(y).reshape(len(y), -1)[:, 0])
  if len(labels) and labels.min() >= 0 and len(labels) != int(labels.max()) + 1:
    shown = ', '.join(str(v) for v in labels[:12]) + (', ...' if len(labels) > 12 else '')
    raise ValueError(f'{source}: the labels found ({shown}) leave classes of 0..{labels.max()} '
                     'without an image; relabel them 0..K-1, or give the class count '
                     '(num_classes, --num_classes) if that is meant.')
