"""Tests for antigan_tf.data.sources: formats, source order, offline use."""

import gzip
import os
import pickle
import socket
import struct
import time

import numpy as np
import pytest

from antigan_tf.data import sources

DEBIAN_FASHION_DIR = '/usr/share/datasets/fashion-mnist'
_REAL_PROBE = sources._network_available  # The autouse fixture replaces it.


# ---------------------------------------------------------------------------
# Writers for the real on-disk formats.


def _write_idx(path, array, *, gz=True, type_byte=0x08):
  array = np.asarray(array, np.uint8)
  header = struct.pack('>BBBB', 0, 0, type_byte, array.ndim)
  header += struct.pack(f'>{array.ndim}I', *array.shape)
  opener = gzip.open if gz else open
  with opener(str(path) + ('.gz' if gz else ''), 'wb') as f:
    f.write(header + array.tobytes())


def _images(n, shape=(28, 28), seed=0):
  return np.random.default_rng(seed).integers(0, 256, (n,) + shape, np.uint8)


def _write_idx_dir(directory, *, n_train=3, n_test=2, gz=True, seed=0):
  """Writes train/t10k IDX files; returns {split: (images, labels)}."""
  os.makedirs(directory, exist_ok=True)
  out = {}
  for split, prefix, n in (('train', 'train', n_train),
                           ('test', 't10k', n_test)):
    x = _images(n, seed=seed + n)
    y = np.arange(n, dtype=np.uint8) % 10
    _write_idx(os.path.join(directory, f'{prefix}-images-idx3-ubyte'), x, gz=gz)
    _write_idx(os.path.join(directory, f'{prefix}-labels-idx1-ubyte'), y, gz=gz)
    out[split] = (x, y)
  return out


def _write_mnist_npz(path, *, n_train=4, n_test=3):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  np.savez(path, x_train=_images(n_train), y_train=np.arange(n_train) % 10,
           x_test=_images(n_test, seed=1), y_test=np.full(n_test, 9))


def _write_cifar_dir(directory, *, per_batch=2, train_batches=5, protocol=2):
  """Writes CIFAR-10 python batches: pixel (0, 0) is (10, 20, 30) everywhere."""
  os.makedirs(directory, exist_ok=True)
  names = [f'data_batch_{i}' for i in range(1, train_batches + 1)]
  for i, fname in enumerate(names + ['test_batch']):
    images = np.zeros((per_batch, 3, 32, 32), np.uint8)
    images[:, :, 0, 0] = (10, 20, 30)  # Channel-first, as in the real files.
    batch = {b'batch_label': fname.encode(), b'labels': [i % 10] * per_batch,
             b'data': images.reshape(per_batch, 3072),
             b'filenames': [b'f.png'] * per_batch}
    with open(os.path.join(directory, fname), 'wb') as f:
      pickle.dump(batch, f, protocol=protocol)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
  """Empty Keras cache and system dirs, no cache, and no network probe."""
  monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'keras_home'))
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path / 'tfds'))
  monkeypatch.delenv(sources.OFFLINE_ENV_VAR, raising=False)
  monkeypatch.setattr(sources, 'SYSTEM_DATA_DIRS',
                      {'fashion_mnist': (str(tmp_path / 'system_fashion'),)})

  def no_probe():
    pytest.fail('connectivity probe must not run in this test')

  monkeypatch.setattr(sources, '_network_available', no_probe)
  sources.clear_cache()
  yield
  sources.clear_cache()


# ---------------------------------------------------------------------------
# Formats.


@pytest.mark.parametrize('gz', [True, False])
def test_idx_dir_loads_both_splits(tmp_path, gz):
  raw = _write_idx_dir(tmp_path / 'd', n_train=3, n_test=2, gz=gz)
  for split, n in (('train', 3), ('test', 2)):
    ds = sources.load_local(tmp_path / 'd', split=split)
    assert ds.x.shape == (n, 28, 28, 1) and ds.x.dtype == np.float32
    assert ds.y.dtype == np.int32 and ds.split == split
    np.testing.assert_allclose(ds.x[..., 0], raw[split][0] / 127.5 - 1,
                               atol=1e-6)
    np.testing.assert_array_equal(ds.y, raw[split][1])
    assert ds.x.flags.c_contiguous and ds.y.flags.c_contiguous


def test_uint8_extremes_map_to_minus_one_and_one():
  x = np.array([[[0, 255]]], np.uint8)
  out, _ = sources.validate_images(x, [0])
  assert out.shape == (1, 1, 2, 1)
  assert out.min() == -1.0 and out.max() == 1.0


def test_keras_mnist_npz_file_and_dir(tmp_path):
  path = str(tmp_path / 'mnist.npz')
  _write_mnist_npz(path, n_train=4, n_test=3)
  from_file = sources.load_local(path, split='test')
  assert from_file.x.shape == (3, 28, 28, 1)
  assert from_file.num_classes == 10 and list(from_file.y) == [9, 9, 9]
  from_dir = sources.load_dataset('mnist', data_dir=str(tmp_path))
  assert from_dir.x.shape == (4, 28, 28, 1) and from_dir.source == path


def test_split_npz_files_in_dir_and_single_xy_file(tmp_path):
  np.savez(tmp_path / 'train.npz', x=_images(5), y=np.arange(5))
  np.savez(tmp_path / 'test.npz', x=_images(2), y=np.array([1, 2]))
  assert len(sources.load_local(tmp_path, split='train').x) == 5
  test = sources.load_local(tmp_path, split='test')
  assert len(test.x) == 2 and list(test.y) == [1, 2] and test.num_classes == 3


def test_a_single_xy_file_is_split_into_disjoint_train_and_test_parts(tmp_path):
  x = _images(70, seed=3)
  y = np.repeat(np.arange(10), 7)
  np.savez(tmp_path / 'data.npz', x=x, y=y)
  for path in (tmp_path / 'data.npz', tmp_path):  # The file, or the directory holding it.
    train = sources.load_local(path, split='train')
    test = sources.load_local(path, split='test')
    assert len(train.x) == 60 and len(test.x) == 10  # 1/7 of each class held out.
    assert sorted(test.y.tolist()) == list(range(10)) and train.num_classes == 10
    train_rows = {r.tobytes() for r in train.x}
    assert not any(r.tobytes() in train_rows for r in test.x)  # No test image is trained on.
    again = sources.load_local(path, split='test')
    np.testing.assert_array_equal(again.x, test.x)  # The same split on every call.


def test_label_gaps_are_an_error_unless_num_classes_says_so(tmp_path):
  y = np.array([0, 1, 2, 255] * 2)
  np.savez(tmp_path / 'train.npz', x=_images(8), y=y)
  with pytest.raises(ValueError, match=r'labels found \(0, 1, 2, 255\) leave classes of 0..255'):
    sources.load_local(tmp_path, split='train')
  assert sources.load_local(tmp_path, split='train', num_classes=256).num_classes == 256


def test_npz_with_wrong_keys_is_rejected(tmp_path):
  np.savez(tmp_path / 'data.npz', images=_images(2), labels=[0, 1])
  with pytest.raises(ValueError, match='expected keys x_train/y_train or x/y'):
    sources.load_local(tmp_path / 'data.npz')


@pytest.mark.parametrize('subdir', ['', 'cifar-10-batches-py'])
def test_cifar_batches(tmp_path, subdir):
  # Protocol 2 as in the original files; 5 pickles arrays differently.
  _write_cifar_dir(tmp_path / subdir, per_batch=2, protocol=5 if subdir else 2)
  train = sources.load_dataset('cifar10', data_dir=str(tmp_path))
  assert train.x.shape == (10, 32, 32, 3)
  np.testing.assert_array_equal(train.y, np.repeat(np.arange(5), 2))
  # Channel-first rows must become (H, W, C) pixels.
  np.testing.assert_allclose(train.x[0, 0, 0],
                             np.array([10, 20, 30]) / 127.5 - 1, atol=1e-6)
  assert train.x[0, 1, 1, 0] == -1.0
  test = sources.load_dataset('cifar10', split='test', data_dir=str(tmp_path))
  assert test.x.shape == (2, 32, 32, 3) and list(test.y) == [5, 5]


def test_cifar_incomplete_train_batches_rejected(tmp_path):
  _write_cifar_dir(tmp_path, train_batches=3)
  with pytest.raises(ValueError, match='incomplete CIFAR-10'):
    sources.load_local(tmp_path)


def test_cifar_pickle_cannot_run_code(tmp_path):
  _write_cifar_dir(tmp_path)

  class Evil:

    def __reduce__(self):
      return (os.system, ('echo pwned',))

  with open(tmp_path / 'test_batch', 'wb') as f:
    pickle.dump({b'data': Evil(), b'labels': [0]}, f)
  with pytest.raises(ValueError, match='not a valid CIFAR-10'):
    sources.load_local(tmp_path, split='test')


def test_named_dataset_with_wrong_image_shape(tmp_path):
  _write_cifar_dir(tmp_path)
  with pytest.raises(ValueError, match=r'mnist images must be \(28, 28, 1\)'):
    sources.load_dataset('mnist', data_dir=str(tmp_path))


def test_load_dataset_local_name(tmp_path):
  np.savez(tmp_path / 'train.npz', x=np.zeros((2, 8, 8, 3), np.float32),
           y=np.array([0, 3]))
  ds = sources.load_dataset('local', data_dir=str(tmp_path), num_classes=4)
  assert ds.name == 'local' and ds.num_classes == 4 and ds.x.shape[-1] == 3
  with pytest.raises(ValueError, match=r'labels found \(0, 3\)'):
    sources.load_dataset('local', data_dir=str(tmp_path))
  with pytest.raises(ValueError, match="num_classes applies to name='local' only"):
    sources.load_dataset('mnist', data_dir=str(tmp_path), num_classes=4)
  with pytest.raises(ValueError, match='needs data_dir'):
    sources.load_dataset('local')


# ---------------------------------------------------------------------------
# Source order and caches.


def test_source_order_data_dir_then_keras_then_system(tmp_path):
  explicit, system = tmp_path / 'explicit', tmp_path / 'system_fashion'
  keras = tmp_path / 'keras_home' / 'datasets' / 'fashion-mnist'
  _write_idx_dir(explicit, n_train=1)
  _write_idx_dir(keras, n_train=2)
  _write_idx_dir(system, n_train=3)
  ds = sources.load_dataset('fashion_mnist', data_dir=str(explicit))
  assert (ds.source, len(ds.x)) == (str(explicit), 1)
  ds = sources.load_dataset('fashion_mnist')
  assert (ds.source, len(ds.x)) == (str(keras), 2)
  for f in os.listdir(keras):
    os.remove(keras / f)
  ds = sources.load_dataset('fashion_mnist')
  assert (ds.source, len(ds.x)) == (str(system), 3)


def test_keras_cache_mnist_and_cifar10(tmp_path):
  datasets = tmp_path / 'keras_home' / 'datasets'
  _write_mnist_npz(str(datasets / 'mnist.npz'), n_train=4)
  _write_cifar_dir(datasets / 'cifar-10-batches-py', per_batch=1)
  mnist = sources.load_dataset('mnist')
  assert mnist.x.shape == (4, 28, 28, 1) and mnist.name == 'mnist'
  assert mnist.source == str(datasets / 'mnist.npz')
  cifar = sources.load_dataset('cifar10', split='test')
  assert cifar.x.shape == (1, 32, 32, 3)
  assert cifar.source == str(datasets / 'cifar-10-batches-py')


def test_explicit_data_dir_without_data_does_not_fall_back(tmp_path):
  _write_idx_dir(tmp_path / 'keras_home' / 'datasets' / 'fashion-mnist')
  (tmp_path / 'empty').mkdir()
  with pytest.raises(sources.DatasetNotFoundError,
                     match='train-images-idx3-ubyte') as e:
    sources.load_dataset('fashion_mnist', data_dir=str(tmp_path / 'empty'))
  assert str(tmp_path / 'empty') in str(e.value)
  with pytest.raises(sources.DatasetNotFoundError, match='does not exist'):
    sources.load_dataset('fashion_mnist', data_dir=str(tmp_path / 'missing'))


def test_cached_arrays_are_shared_and_read_only(tmp_path):
  _write_idx_dir(tmp_path / 'system_fashion')
  first = sources.load_dataset('fashion_mnist')
  assert sources.load_dataset('fashion_mnist') is first
  assert not first.x.flags.writeable and not first.y.flags.writeable
  with pytest.raises(ValueError, match='read-only'):
    first.x[0, 0, 0, 0] = 0.5
  with pytest.raises(ValueError, match='read-only'):
    first.y[0] = 3
  # A different split is a different cache entry.
  assert sources.load_dataset('fashion_mnist', split='test') is not first


# ---------------------------------------------------------------------------
# Not found, offline behaviour and TFDS.


@pytest.fixture
def tfds_calls(monkeypatch):
  """Records tfds.load's `download` argument; fails on gs://tfds-data use."""
  tfds = pytest.importorskip('tensorflow_datasets')
  gcs_utils = tfds.core.utils.gcs_utils
  calls, real_load = [], tfds.load

  def no_gcs(path):
    pytest.fail(f'TFDS queried {path}; offline this retries for minutes')

  monkeypatch.setattr(gcs_utils, 'exists', no_gcs)

  def load(*args, **kwargs):
    calls.append(kwargs.get('download'))
    return real_load(*args, **kwargs)

  monkeypatch.setattr(tfds, 'load', load)
  return calls


def _assert_lists_every_place(message, tmp_path):
  assert str(tmp_path / 'keras_home' / 'datasets' / 'fashion-mnist') in message
  assert str(tmp_path / 'system_fashion') in message
  assert str(tmp_path / 'tfds') in message
  assert 'apt-get install dataset-fashion-mnist' in message
  assert 'data_dir' in message


def test_not_found_with_download_false_is_fast(tmp_path, tfds_calls):
  start = time.monotonic()
  with pytest.raises(sources.DatasetNotFoundError) as e:
    sources.load_dataset('fashion_mnist', download=False)
  assert time.monotonic() - start < 10
  _assert_lists_every_place(str(e.value), tmp_path)
  assert 'download=False' in str(e.value)
  assert tfds_calls == [False]
  assert len(e.value.looked) == 3 and isinstance(e.value, FileNotFoundError)


def test_not_found_offline_env_never_probes(tmp_path, monkeypatch, tfds_calls):
  monkeypatch.setenv(sources.OFFLINE_ENV_VAR, '1')
  start = time.monotonic()
  with pytest.raises(sources.DatasetNotFoundError) as e:
    sources.load_dataset('fashion_mnist')
  assert time.monotonic() - start < 10
  _assert_lists_every_place(str(e.value), tmp_path)
  assert f'{sources.OFFLINE_ENV_VAR} is set' in str(e.value)
  assert tfds_calls == [False]


def test_auto_download_skipped_when_probe_fails(monkeypatch, tfds_calls):
  probes = []
  monkeypatch.setattr(sources, '_network_available',
                      lambda: probes.append(1) or False)
  with pytest.raises(sources.DatasetNotFoundError, match='no connection to'):
    sources.load_dataset('mnist', split='test')
  assert probes == [1] and tfds_calls == [False]


def test_prepared_tfds_dataset_loads_offline(tmp_path, monkeypatch, tfds_calls):
  """Prepares a 3+2 example TFDS 'mnist' from local IDX files, then loads it."""
  tfds = pytest.importorskip('tensorflow_datasets')
  tfds_mnist = tfds.image_classification.mnist
  gcs_utils = tfds.core.utils.gcs_utils
  raw = tmp_path / 'raw'
  files = {}
  for key, array in (('train_data', np.full((3, 28, 28), 255)),
                     ('train_labels', [1, 2, 3]),
                     ('test_data', np.zeros((2, 28, 28))),
                     ('test_labels', [4, 5])):
    raw.mkdir(exist_ok=True)
    _write_idx(raw / key, array, gz=False)  # What download_and_extract yields.
    files[key] = str(raw / key)
  monkeypatch.setattr(tfds_mnist, '_TRAIN_EXAMPLES', 3)
  monkeypatch.setattr(tfds_mnist, '_TEST_EXAMPLES', 2)
  monkeypatch.setattr(tfds.download.DownloadManager, 'download_and_extract',
                      lambda self, urls: files)
  tfds_dir = str(tmp_path / 'tfds')
  gcs_before = gcs_utils._is_gcs_disabled  # TFDS 4.9.10 starts with it set.
  with sources._tfds_gcs_disabled(tfds):
    tfds.builder('mnist', data_dir=tfds_dir).download_and_prepare()

  ds = sources.load_dataset('mnist', download=False, tfds_data_dir=tfds_dir)
  assert ds.source == f'tfds:{tfds_dir}' and ds.x.shape == (3, 28, 28, 1)
  assert sorted(ds.y) == [1, 2, 3] and np.all(ds.x == 1.0)
  assert not ds.x.flags.writeable
  assert tfds_calls == [False] and gcs_utils._is_gcs_disabled == gcs_before  # Restored.
  assert sources.load_dataset('mnist', download=False,
                              tfds_data_dir=tfds_dir) is ds


def test_tfds_missing_is_reported(monkeypatch):
  import builtins  # pylint: disable=g-import-not-at-top
  real_import = builtins.__import__

  def fake_import(name, *args, **kwargs):
    if name.startswith('tensorflow_datasets'):
      raise ImportError('No module named tensorflow_datasets')
    return real_import(name, *args, **kwargs)

  monkeypatch.setattr(builtins, '__import__', fake_import)
  with pytest.raises(sources.DatasetNotFoundError,
                     match='tensorflow_datasets is not importable'):
    sources.load_dataset('cifar10')


def test_network_probe_against_local_port(monkeypatch):
  # Only localhost is contacted.
  with socket.socket() as server:
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    monkeypatch.setattr(sources, '_PROBE_ADDRESS', server.getsockname())
    assert _REAL_PROBE()
  # The port is closed now: connection refused.
  assert not _REAL_PROBE()


def test_unknown_name_and_bad_split():
  with pytest.raises(ValueError, match='mnist, fashion_mnist, cifar10'):
    sources.load_dataset('imagenet')
  with pytest.raises(ValueError, match='split must be one of'):
    sources.load_dataset('mnist', split='validation')


# ---------------------------------------------------------------------------
# Corrupt files.


def test_idx_bad_magic(tmp_path):
  _write_idx_dir(tmp_path)
  with gzip.open(tmp_path / 'train-images-idx3-ubyte.gz', 'wb') as f:
    f.write(b'\x1f\x8b\x08\x03' + bytes(100))
  with pytest.raises(ValueError, match='bad IDX magic'):
    sources.load_local(tmp_path)


def test_idx_truncated_data(tmp_path):
  _write_idx_dir(tmp_path, gz=False)
  path = tmp_path / 'train-images-idx3-ubyte'
  path.write_bytes(path.read_bytes()[:-10])
  with pytest.raises(ValueError, match='truncated or corrupt'):
    sources.load_local(tmp_path)


def test_idx_truncated_gzip(tmp_path):
  _write_idx_dir(tmp_path)
  path = tmp_path / 'train-labels-idx1-ubyte.gz'
  path.write_bytes(path.read_bytes()[:-12])
  with pytest.raises(ValueError, match='train-labels-idx1-ubyte.gz'):
    sources.load_local(tmp_path)


def test_idx_wrong_dims_and_missing_counterpart(tmp_path):
  _write_idx_dir(tmp_path)
  _write_idx(tmp_path / 'train-images-idx3-ubyte', np.zeros(5))
  with pytest.raises(ValueError, match='1 dimensions, expected 3'):
    sources.load_local(tmp_path)
  os.remove(tmp_path / 't10k-labels-idx1-ubyte.gz')
  with pytest.raises(ValueError, match='not its images/labels counterpart'):
    sources.load_local(tmp_path, split='test')


# ---------------------------------------------------------------------------
# validate_images.


@pytest.mark.parametrize('shape', [(4, 28, 28, 2), (28, 28), (4, 1, 28, 28, 1)])
def test_wrong_shape(shape):
  with pytest.raises(ValueError, match=r'\(N, H, W, C\)') as e:
    sources.validate_images(np.zeros(shape, np.uint8), np.zeros(shape[0]))
  assert str(shape) in str(e.value)


@pytest.mark.parametrize('dtype', [np.int64, bool, 'U3'])
def test_wrong_dtype(dtype):
  with pytest.raises(ValueError, match='uint8 or float, got dtype'):
    sources.validate_images(np.zeros((2, 4, 4), dtype), [0, 1], name='images')


def test_nan_and_inf_are_counted():
  x = np.zeros((2, 4, 4, 1), np.float32)
  x[0, 0, 0, 0], x[1, 1, 1, 0], x[1, 2, 2, 0] = np.nan, np.inf, -np.inf
  with pytest.raises(ValueError, match='3 NaN/inf'):
    sources.validate_images(x, [0, 1])


def test_empty_dataset():
  with pytest.raises(ValueError, match='empty'):
    sources.validate_images(np.zeros((0, 4, 4), np.uint8), [])


def test_float_ranges():
  x01 = np.array([0.0, 0.25, 1.0], np.float64).reshape(1, 1, 3, 1)
  out, _ = sources.validate_images(x01, [0])
  np.testing.assert_allclose(out.ravel(), [-1.0, -0.5, 1.0])
  assert out.dtype == np.float32
  x11 = np.array([-1.0, -0.5, 0.5], np.float32).reshape(1, 1, 3, 1)
  out, _ = sources.validate_images(x11, [0])
  np.testing.assert_array_equal(out.ravel(), x11.ravel())
  assert out is not x11  # Never aliases the caller's array.
  with pytest.raises(ValueError, match=r'min -3.0 and max 2.0.*\[0, 1\]'):
    sources.validate_images(np.array([-3.0, 2.0]).reshape(1, 1, 2), [0])


def test_labels():
  x = np.zeros((3, 4, 4), np.uint8)
  _, y = sources.validate_images(x, np.array([[0.0], [2.0], [1.0]]))
  assert y.dtype == np.int32 and list(y) == [0, 2, 1]
  with pytest.raises(ValueError, match=r'y: 1 labels outside \[0, 2\)'):
    sources.validate_images(x, [0, 2, 1], num_classes=2)
  with pytest.raises(ValueError, match='outside'):
    sources.validate_images(x, [0, -1, 1])
  with pytest.raises(ValueError, match=r'y: 2 labels for 3 images.*\(3,\)'):
    sources.validate_images(x, [0, 1])
  with pytest.raises(ValueError, match='whole numbers'):
    sources.validate_images(x, [0.0, 0.5, 1.0])
  with pytest.raises(ValueError, match=r'mine labels: expected labels of'):
    sources.validate_images(x, np.zeros((3, 2)), name='mine')


# ---------------------------------------------------------------------------
# Real data: the Debian Fashion-MNIST package is a prerequisite of the suite.


def test_real_debian_fashion_mnist(monkeypatch):
  monkeypatch.setattr(sources, 'SYSTEM_DATA_DIRS',
                      {'fashion_mnist': (DEBIAN_FASHION_DIR,)})
  assert os.path.isfile(os.path.join(DEBIAN_FASHION_DIR,
                                     'train-images-idx3-ubyte.gz')), (
      'install the Debian package dataset-fashion-mnist (make datasets)')
  for split, n in (('train', 60000), ('test', 10000)):
    ds = sources.load_dataset('fashion_mnist', split=split, download=False)
    assert ds.source == DEBIAN_FASHION_DIR
    assert ds.x.shape == (n, 28, 28, 1) and ds.x.dtype == np.float32
    assert ds.x.min() == -1.0 and ds.x.max() == 1.0
    assert ds.y.shape == (n,) and ds.y.dtype == np.int32
    np.testing.assert_array_equal(np.unique(ds.y), np.arange(10))
    # Fashion-MNIST is balanced: every class has n / 10 examples.
    np.testing.assert_array_equal(np.bincount(ds.y), np.full(10, n // 10))
