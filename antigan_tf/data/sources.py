"""Offline-first loading of MNIST, Fashion-MNIST and CIFAR-10 as numpy arrays.

`load_dataset(name)` looks for the data in this order and uses the first hit:

1. `data_dir`, if given (an explicit directory that holds no data is an error;
   there is no silent fallback).
2. The Keras cache, with Keras's own layout, under `$KERAS_HOME` (default
   `~/.keras`): `datasets/mnist.npz`, `datasets/fashion-mnist/` (IDX) and
   `datasets/cifar-10-batches-py/`. Only read, never downloaded.
3. System directories from `SYSTEM_DATA_DIRS` (Fashion-MNIST from the Debian
   package `dataset-fashion-mnist`).
4. tensorflow-datasets: a prepared copy first (`download=False`, offline); a
   download only if allowed (see `load_dataset`), so an offline machine never
   enters TFDS's minutes-long bucket retries.

Reading files needs numpy only; `tensorflow_datasets` is imported lazily.
Every result goes through `validate_images`: float32 (N, H, W, C) images in
[-1, 1] and int32 labels.
"""

import contextlib
import gzip
import math
import os
import pickle
import socket
import struct
import threading
import zipfile
from typing import NamedTuple, Optional

import numpy as np

from antigan_tf.data import splits

DATASET_NAMES = ('mnist', 'fashion_mnist', 'cifar10')
SPLITS = ('train', 'test')
# Checked after the Keras cache; a module constant so tests can monkeypatch it.
SYSTEM_DATA_DIRS: dict[str, tuple[str, ...]] = {
    'fashion_mnist': ('/usr/share/datasets/fashion-mnist',),
}
OFFLINE_ENV_VAR = 'ANTIGAN_TF_OFFLINE'

_NUM_CLASSES = 10
_IMAGE_SHAPES = {
    'mnist': (28, 28, 1), 'fashion_mnist': (28, 28, 1), 'cifar10': (32, 32, 3),
}
_KERAS_CACHE_ENTRIES = {
    'mnist': 'mnist.npz',
    'fashion_mnist': 'fashion-mnist',
    'cifar10': 'cifar-10-batches-py',
}
_CIFAR_DIR = 'cifar-10-batches-py'
_CIFAR_TRAIN_BATCHES = tuple(f'data_batch_{i}' for i in range(1, 6))
_PROBE_ADDRESS = ('storage.googleapis.com', 443)
_PROBE_TIMEOUT_S = 3.0
# IDX type byte -> big-endian numpy dtype.
_IDX_DTYPES = {0x08: '>u1', 0x09: '>i1', 0x0B: '>i2', 0x0C: '>i4',
               0x0D: '>f4', 0x0E: '>f8'}

# (name, split, source) -> ImageDataset with read-only arrays.
_CACHE: dict[tuple[str, str, str], 'ImageDataset'] = {}


class ImageDataset(NamedTuple):
  """A validated image classification split.

  Attributes:
    x: float32 images, shape (N, H, W, C), values in [-1, 1].
    y: int32 labels, shape (N,), values in [0, num_classes).
    name: Dataset name, e.g. 'fashion_mnist' or 'local'.
    split: 'train' or 'test'.
    num_classes: Number of classes.
    source: Where it was loaded from: a path, or 'tfds:<data_dir>'.
  """
  x: np.ndarray
  y: np.ndarray
  name: str
  split: str
  num_classes: int
  source: str


class DatasetNotFoundError(FileNotFoundError):
  """No source holds the dataset; the message lists every place looked in."""

  def __init__(self, message: str, *, looked: tuple[str, ...] = ()):
    super().__init__(message)
    self.looked = tuple(looked)


class _Found(NamedTuple):
  kind: str  # 'idx', 'npz' or 'cifar'.
  paths: tuple[str, ...]
  source: str


def validate_images(
    x, y, *, num_classes: Optional[int] = None, name: str = 'x'
) -> tuple[np.ndarray, np.ndarray]:
  """Checks and normalises images and labels.

  uint8 images are mapped to x / 127.5 - 1; float images in [0, 1] to 2x - 1;
  float images already in [-1, 1] are kept. (N, H, W) gains a channel axis.

  Args:
    x: Images, (N, H, W) or (N, H, W, C) with C in {1, 3}; uint8 or float.
    y: Integer-valued labels, shape (N,) or (N, 1).
    num_classes: Labels must lie in [0, num_classes); inferred as max + 1 if
      None.
    name: Name of the images in error messages (labels: 'y' or '<name> labels').

  Returns:
    New C-contiguous arrays: float32 (N, H, W, C) in [-1, 1] and int32 (N,).

  Raises:
    ValueError: On a bad dtype, shape, value range, non-finite values, empty
      data, or labels that are non-integer, mis-shaped or out of range.
  """
  y_name = 'y' if name == 'x' else f'{name} labels'
  x = np.asarray(x)
  y = np.asarray(y)
  if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
    raise ValueError(f'{name}: images must be uint8 or float, got dtype '
                     f'{x.dtype}.')
  if x.ndim == 3:
    x = x[..., np.newaxis]
  if x.ndim != 4 or x.shape[-1] not in (1, 3):
    raise ValueError(f'{name}: expected images of shape (N, H, W, C) with C in '
                     f'{{1, 3}} (or (N, H, W)), got shape {x.shape}.')
  if x.size == 0:
    raise ValueError(f'{name}: dataset is empty (shape {x.shape}).')
  if x.dtype == np.uint8:
    out = x.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
  else:
    bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
    if bad:
      raise ValueError(f'{name}: {bad} NaN/inf values in images.')
    lo, hi = float(x.min()), float(x.max())
    out = x.astype(np.float32)  # Always a copy: never alias the caller's data.
    if lo >= 0.0 and hi <= 1.0:
      out = out * np.float32(2.0) - np.float32(1.0)
    elif lo < -1.0 or hi > 1.0:
      raise ValueError(f'{name}: float images have min {lo} and max {hi}; '
                       'accepted ranges are [0, 1] and [-1, 1] (or use uint8 '
                       '[0, 255]).')
  out = np.ascontiguousarray(out, dtype=np.float32)

  if y.ndim == 2 and y.shape[1] == 1:
    y = y[:, 0]
  if y.ndim != 1:
    raise ValueError(f'{y_name}: expected labels of shape (N,) or (N, 1), got '
                     f'shape {y.shape}.')
  if len(y) != len(out):
    raise ValueError(f'{y_name}: {len(y)} labels for {len(out)} images in '
                     f'{name}; expected shape ({len(out)},).')
  if np.issubdtype(y.dtype, np.floating):
    if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
      raise ValueError(f'{y_name}: float labels must be whole numbers.')
  elif not np.issubdtype(y.dtype, np.integer):
    raise ValueError(f'{y_name}: labels must be integers, got dtype {y.dtype}.')
  if num_classes is None:
    num_classes = int(y.max()) + 1
  bad = int(np.count_nonzero((y < 0) | (y >= num_classes)))
  if bad:
    raise ValueError(f'{y_name}: {bad} labels outside [0, {num_classes}) (min '
                     f'{y.min()}, max {y.max()}).')
  return out, np.ascontiguousarray(y, dtype=np.int32)


def load_local(
    path: str, *, split: str = 'train', name: str = 'local',
    num_classes: Optional[int] = None,
) -> ImageDataset:
  """Loads a split from a directory (IDX, npz or CIFAR layout) or a .npz file.

  Not cached: every call reads `path` again.

  Args:
    path: Directory or `.npz` file.
    split: 'train' or 'test'. An npz holding plain `x`/`y` (no
      `x_train`/`x_test`) is split here: a seeded, stratified 1/7 of each
      class is the test split, the rest the train split, the same on every
      call, so no test image is a training image.
    name: Name stored in the result and used in error messages.
    num_classes: Label count; if None, the train split's largest label + 1,
      and every label below it must have an image (a stray label 255 would
      otherwise make a 256-class model).

  Returns:
    The validated `ImageDataset`.

  Raises:
    DatasetNotFoundError: If `path` does not exist or holds no known format.
    ValueError: On a bad split, unreadable files or invalid data.
  """
  _check_split(split)
  path = os.fspath(path)
  found = _detect(path, split, name)
  if found is None:
    raise DatasetNotFoundError(
        f'No {split} data found at {path!r}: '
        + ('it does not exist. ' if not os.path.exists(path) else '')
        + f'Expected {_expected_files(split)}.', looked=(path,))
  x, y = _read(found, split)
  if _serves_both_splits(found, path, name):
    x, y = splits.held_out_split(x, y, split, found.source)
  if num_classes is None and split == 'train':
    splits.check_no_label_gaps(y, found.source)
  return _finish(name, split, x, y, found.source, num_classes=num_classes)


def _serves_both_splits(found: _Found, path: str, name: str) -> bool:
  """Whether one plain x/y .npz is what both splits would read."""
  if found.kind != 'npz':
    return False
  keys = set(_npz_keys(found.paths[0]))
  if not {'x', 'y'} <= keys or {'x_train', 'x_test'} & keys:
    return False
  both = [_detect(path, s, name) for s in SPLITS]
  return all(f is not None and f.paths == found.paths for f in both)


def load_dataset(
    name: str, *, split: str = 'train', data_dir: Optional[str] = None,
    download: Optional[bool] = None, tfds_data_dir: Optional[str] = None,
    num_classes: Optional[int] = None,
) -> ImageDataset:
  """Loads a named dataset split from the first source that has it.

  Results are cached in-process per (name, split, source); the cached arrays
  are read-only (`flags.writeable` is False) so no caller can corrupt them.
  Copy them (`x.copy()`) before modifying in place.

  Args:
    name: One of `DATASET_NAMES`, or 'local' together with `data_dir`.
    split: 'train' or 'test'.
    data_dir: Directory (or .npz file) to use instead of the default sources.
    download: Whether TFDS may download. None: only if `ANTIGAN_TF_OFFLINE` is
      unset/false and `storage.googleapis.com:443` answers within 3 s. False:
      never (no probe). True: always, without a probe.
    tfds_data_dir: TFDS data directory (default `$TFDS_DATA_DIR` or
      `~/tensorflow_datasets`).
    num_classes: with name='local': the label count (see `load_local`).

  Returns:
    The validated `ImageDataset` with read-only arrays.

  Raises:
    ValueError: Unknown name, bad split, or invalid data in a source.
    DatasetNotFoundError: No source has the data; the message lists every
      place looked in and how to provide the data.
  """
  _check_split(split)
  if name == 'local':
    if data_dir is None:
      raise ValueError("name='local' needs data_dir=<directory or .npz file>.")
    return load_local(data_dir, split=split, num_classes=num_classes)
  if num_classes is not None:
    raise ValueError(f'num_classes applies to name=\'local\' only; {name} has {_NUM_CLASSES}.')
  if name not in DATASET_NAMES:
    raise ValueError(f'Unknown dataset {name!r}; valid names: '
                     f'{", ".join(DATASET_NAMES)} (or "local" with data_dir).')
  if data_dir is not None:
    data_dir = os.fspath(data_dir)
    found = _detect(data_dir, split, name)
    if found is None:
      what = 'does not exist' if not os.path.exists(data_dir) else (
          f'holds none of: {_expected_files(split)}')
      raise DatasetNotFoundError(
          f'{name} ({split}) not found in data_dir={data_dir!r}: it {what}.',
          looked=(data_dir,))
    return _load_cached(name, split, found)

  looked = []
  for label, path in _default_dirs(name):
    found = _detect(path, split, name) if os.path.exists(path) else None
    if found is not None:
      return _load_cached(name, split, found)
    looked.append(f'{label} {path}: ' + (
        'no such file or directory' if not os.path.exists(path)
        else f'no {split} files'))
  result = _load_tfds(name, split, tfds_data_dir, download, looked)
  if result is not None:
    return result
  raise DatasetNotFoundError(_not_found_message(name, split, looked),
                             looked=tuple(looked))


def clear_cache() -> None:
  """Drops all datasets cached by `load_dataset`."""
  _CACHE.clear()


def _check_split(split: str) -> None:
  if split not in SPLITS:
    raise ValueError(f'split must be one of {SPLITS}, got {split!r}.')


def _keras_home() -> str:
  # Same rule as keras.utils.get_file: $KERAS_HOME, else ~/.keras.
  return os.environ.get('KERAS_HOME') or os.path.join(
      os.path.expanduser('~'), '.keras')


def _default_dirs(name: str) -> list[tuple[str, str]]:
  keras = os.path.join(_keras_home(), 'datasets', _KERAS_CACHE_ENTRIES[name])
  return [('Keras cache', keras)] + [
      ('system dir', d) for d in SYSTEM_DATA_DIRS.get(name, ())]


def _expected_files(split: str) -> str:
  p = 'train' if split == 'train' else 't10k'
  batches = 'data_batch_1..5' if split == 'train' else 'test_batch'
  return (f'IDX files {p}-images-idx3-ubyte[.gz] + {p}-labels-idx1-ubyte[.gz]; '
          f'or {split}.npz with x, y / a .npz with x_{split}, y_{split}; or '
          f'CIFAR-10 python batches ({batches}) in it or in {_CIFAR_DIR}/')


def _not_found_message(name: str, split: str, looked: list[str]) -> str:
  keras = os.path.join(_keras_home(), 'datasets', _KERAS_CACHE_ENTRIES[name])
  hints = [f'pass data_dir=<dir> holding {_expected_files(split)}',
           f'put the Keras-format files at {keras}']
  if name == 'fashion_mnist':
    hints.insert(0, 'sudo apt-get install dataset-fashion-mnist')
  hints.append('allow a TFDS download (download=True, with network) or '
               'prepare it with `tfds build`')
  return (f'Dataset {name!r} ({split}) not found. Looked in:\n'
          + ''.join(f'  - {entry}\n' for entry in looked)
          + 'To provide it:\n' + ''.join(f'  - {h}\n' for h in hints))


def _detect(path: str, split: str, name: str) -> Optional[_Found]:
  """Finds a known on-disk format at `path` without reading the data."""
  if os.path.isfile(path):
    if not path.endswith('.npz'):
      raise ValueError(f'{path}: unsupported file; expected a .npz file or a '
                       'directory.')
    return _Found('npz', (path,), path)
  if not os.path.isdir(path):
    return None
  idx = _idx_files(path, split)
  if idx is not None:
    return _Found('idx', idx, path)
  npz = _pick_npz(path, split, name)
  if npz is not None:
    return _Found('npz', (npz,), npz)
  for d in (path, os.path.join(path, _CIFAR_DIR)):
    wanted = _CIFAR_TRAIN_BATCHES if split == 'train' else ('test_batch',)
    present = [b for b in wanted if os.path.isfile(os.path.join(d, b))]
    if present and len(present) < len(wanted):
      # A partial download would silently shrink the training set.
      raise ValueError(f'{d}: incomplete CIFAR-10 batches; found {present}, '
                       f'need {list(wanted)}.')
    if present:
      return _Found('cifar', tuple(os.path.join(d, b) for b in wanted), d)
  return None


def _idx_files(directory: str, split: str) -> Optional[tuple[str, str]]:
  prefix = 'train' if split == 'train' else 't10k'
  found = []
  for kind in ('images-idx3', 'labels-idx1'):
    base = os.path.join(directory, f'{prefix}-{kind}-ubyte')
    found.append(next(
        (p for p in (base, base + '.gz') if os.path.isfile(p)), None))
  if found == [None, None]:
    return None
  if None in found:
    have = next(p for p in found if p is not None)
    raise ValueError(f'{directory}: found {os.path.basename(have)} but not its '
                     'images/labels counterpart.')
  return found[0], found[1]


def _pick_npz(directory: str, split: str, name: str) -> Optional[str]:
  other = next(s for s in SPLITS if s != split)
  names = sorted(f for f in os.listdir(directory)
                 if f.endswith('.npz') and f != f'{other}.npz')
  preferred = [f'{split}.npz', f'{name}.npz']
  names.sort(key=lambda f: preferred.index(f) if f in preferred else 2)
  for fname in names:
    path = os.path.join(directory, fname)
    keys = set(_npz_keys(path))
    if {f'x_{split}', f'y_{split}'} <= keys or {'x', 'y'} <= keys:
      return path
  return None


def _npz_keys(path: str) -> list[str]:
  try:
    with np.load(path, allow_pickle=False) as f:
      return list(f.files)
  except (OSError, ValueError, zipfile.BadZipFile) as e:
    raise ValueError(f'{path}: not a readable .npz file ({e}).') from e


def _read(found: _Found, split: str) -> tuple[np.ndarray, np.ndarray]:
  if found.kind == 'idx':
    return _read_idx(found.paths[0], ndim=3), _read_idx(found.paths[1], ndim=1)
  if found.kind == 'npz':
    return _read_npz(found.paths[0], split)
  return _read_cifar(found.paths)


def _read_npz(path: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  try:
    with np.load(path, allow_pickle=False) as f:
      for xk, yk in ((f'x_{split}', f'y_{split}'), ('x', 'y')):
        if xk in f.files and yk in f.files:
          return f[xk], f[yk]
      keys = sorted(f.files)
  except (OSError, ValueError, zipfile.BadZipFile) as e:
    raise ValueError(f'{path}: not a readable .npz file ({e}).') from e
  raise ValueError(f'{path}: expected keys x_{split}/y_{split} or x/y, found '
                   f'{keys}.')


def _read_idx(path: str, *, ndim: int) -> np.ndarray:
  """Parses an IDX file (http://yann.lecun.com/exdb/mnist/ format)."""
  try:
    with (gzip.open if path.endswith('.gz') else open)(path, 'rb') as f:
      data = f.read()
  except (OSError, EOFError) as e:  # BadGzipFile is an OSError.
    raise ValueError(f'{path}: cannot read IDX file, truncated or corrupt '
                     f'({e}).') from e
  if len(data) < 4 or data[0] or data[1] or data[2] not in _IDX_DTYPES:
    raise ValueError(f'{path}: bad IDX magic number 0x{data[:4].hex()}; not an '
                     'IDX file.')
  if data[3] != ndim:
    raise ValueError(f'{path}: IDX file has {data[3]} dimensions, expected '
                     f'{ndim}.')
  header = 4 + 4 * ndim
  if len(data) < header:
    raise ValueError(f'{path}: truncated IDX header.')
  dims = struct.unpack(f'>{ndim}I', data[4:header])
  dtype = np.dtype(_IDX_DTYPES[data[2]])
  expected = math.prod(dims) * dtype.itemsize
  if len(data) - header != expected:
    raise ValueError(f'{path}: IDX header says shape {dims} ({expected} bytes) '
                     f'but the file holds {len(data) - header} data bytes; '
                     'truncated or corrupt.')
  array = np.frombuffer(data, dtype, offset=header).reshape(dims)
  return array.astype(dtype.newbyteorder('='))


class _CifarUnpickler(pickle.Unpickler):
  """Only lets through what CIFAR batches contain, since pickle runs code."""
  _ALLOWED = {('numpy', 'ndarray'), ('numpy', 'dtype'), ('_codecs', 'encode')}
  _ALLOWED |= {(f'numpy.{core}.{module}', fn)
               for core in ('core', '_core')  # numpy 1.x and 2.x names.
               for module, fn in (('multiarray', '_reconstruct'),
                                  ('multiarray', 'scalar'),
                                  ('numeric', '_frombuffer'))}

  def find_class(self, module, name):
    if (module, name) not in self._ALLOWED:
      raise pickle.UnpicklingError(f'refusing {module}.{name} in a CIFAR batch')
    return super().find_class(module, name)


def _read_cifar(paths: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
  xs, ys = [], []
  for path in paths:
    try:
      with open(path, 'rb') as f:
        batch = _CifarUnpickler(f, encoding='bytes').load()
      data = np.asarray(batch.get(b'data', batch.get('data')), np.uint8)
      labels = batch.get(b'labels', batch.get('labels'))
      xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
      ys.append(np.asarray(labels))
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError,
            TypeError, ValueError) as e:
      raise ValueError(f'{path}: not a valid CIFAR-10 python batch (dict with '
                       f'data (N, 3072) uint8 and labels) ({e}).') from e
  return np.concatenate(xs), np.concatenate(ys)


def _finish(name: str, split: str, x: np.ndarray, y: np.ndarray, source: str,
            *, num_classes: Optional[int] = None) -> ImageDataset:
  x, y = validate_images(x, y, num_classes=num_classes, name=f'{name}/{split}')
  expected = _IMAGE_SHAPES.get(name)
  if expected is not None and x.shape[1:] != expected:
    raise ValueError(f'{source}: {name} images must be {expected}, got '
                     f'{x.shape[1:]}.')
  return ImageDataset(x, y, name, split, num_classes or int(y.max()) + 1,
                      source)


def _load_cached(name: str, split: str, found: _Found) -> ImageDataset:
  key = (name, split, found.source)
  if key not in _CACHE:
    x, y = _read(found, split)
    _CACHE[key] = _freeze(_finish(name, split, x, y, found.source,
                                  num_classes=_NUM_CLASSES))
  return _CACHE[key]


def _freeze(ds: ImageDataset) -> ImageDataset:
  ds.x.flags.writeable = False
  ds.y.flags.writeable = False
  return ds


def _env_truthy(var: str) -> bool:
  return os.environ.get(var, '').strip().lower() not in ('', '0', 'false',
                                                          'no', 'off')


def _network_available() -> bool:
  """TCP probe in a daemon thread, since DNS lookups can block far longer."""
  ok = []

  def probe():
    try:
      socket.create_connection(_PROBE_ADDRESS, timeout=_PROBE_TIMEOUT_S).close()
      ok.append(True)
    except OSError:
      pass

  thread = threading.Thread(target=probe, daemon=True)
  thread.start()
  thread.join(_PROBE_TIMEOUT_S)
  return bool(ok)


def _download_allowed(download: Optional[bool]) -> tuple[bool, str]:
  if download is not None:
    return bool(download), f'download={download}'
  if _env_truthy(OFFLINE_ENV_VAR):
    return False, f'{OFFLINE_ENV_VAR} is set'
  if not _network_available():
    host, port = _PROBE_ADDRESS
    return False, f'no connection to {host}:{port} within {_PROBE_TIMEOUT_S}s'
  return True, 'network reachable'


@contextlib.contextmanager
def _tfds_gcs_disabled(tfds):
  """Stops TFDS from querying gs://tfds-data while looking for local data.

  Even with download=False, building an unprepared dataset checks the metadata
  bucket, which offline can retry for minutes. TFDS 4.9 has no public switch,
  so flip the private flag that its own tests use (a no-op if it is gone).
  """
  gcs_utils = getattr(getattr(tfds.core, 'utils', None), 'gcs_utils', None)
  if gcs_utils is None or not hasattr(gcs_utils, '_is_gcs_disabled'):
    yield
    return
  previous = gcs_utils._is_gcs_disabled  # pylint: disable=protected-access
  gcs_utils._is_gcs_disabled = True  # pylint: disable=protected-access
  try:
    yield
  finally:
    gcs_utils._is_gcs_disabled = previous  # pylint: disable=protected-access


def _load_tfds(name: str, split: str, tfds_data_dir: Optional[str],
               download: Optional[bool], looked: list[str]
               ) -> Optional[ImageDataset]:
  """Tries TFDS; returns None and appends to `looked` when it cannot help."""
  data_dir = tfds_data_dir or os.environ.get('TFDS_DATA_DIR') or os.path.join(
      os.path.expanduser('~'), 'tensorflow_datasets')
  source = f'tfds:{data_dir}'
  if (name, split, source) in _CACHE:
    return _CACHE[(name, split, source)]
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    looked.append(f'TFDS {data_dir}: skipped, tensorflow_datasets is not '
                  f'importable ({e})')
    return None

  def tfds_arrays(allow_download):
    return tfds.as_numpy(tfds.load(
        name, split=split, data_dir=data_dir, batch_size=-1,
        as_supervised=True, download=allow_download))

  try:
    with _tfds_gcs_disabled(tfds):
      x, y = tfds_arrays(False)
  except Exception as e:  # pylint: disable=broad-except
    # TFDS reports "not prepared" with several exception types.
    allowed, why = _download_allowed(download)
    if not allowed:
      looked.append(f'TFDS {data_dir}: not prepared ({type(e).__name__}); '
                    f'download not attempted: {why}')
      return None
    try:
      x, y = tfds_arrays(True)
    except Exception as e2:  # pylint: disable=broad-except
      looked.append(f'TFDS {data_dir}: download failed ({e2})')
      return None
  _CACHE[(name, split, source)] = _freeze(_finish(
      name, split, x, y, source, num_classes=_NUM_CLASSES))
  return _CACHE[(name, split, source)]
