"""The on-disk client store round-trips data and fails loudly when damaged."""

import os

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf.data import client_store as store_lib


def _clients(seed=0):
  rng = np.random.default_rng(seed)
  return {
      'victim': (rng.uniform(-1, 1, (5, 8, 8, 1)).astype(np.float32), np.full(5, 6, np.int32)),
      'honest_0': (rng.uniform(-1, 1, (3, 8, 8, 1)).astype(np.float32), np.array([2, 3, 4], np.int32)),
  }


def test_round_trip_numpy_and_tf_data(tmp_path):
  clients = _clients()
  store = store_lib.write_client_store(str(tmp_path / 's'), clients, metadata={'k': 'v'})
  assert store.client_ids == ['victim', 'honest_0']
  assert store.sizes == {'victim': 5, 'honest_0': 3}
  assert store.metadata == {'k': 'v'}
  for cid, (x, y) in clients.items():
    rx, ry = store.client_arrays(cid)
    np.testing.assert_array_equal(rx, x)
    np.testing.assert_array_equal(ry, y)
    images, labels = zip(*store.client_dataset(cid).as_numpy_iterator())
    np.testing.assert_array_equal(np.stack(images), x)
    np.testing.assert_array_equal(np.array(labels), y)


def test_dataset_fn_traces_with_a_string_tensor(tmp_path):
  store = store_lib.write_client_store(str(tmp_path / 's'), _clients())
  fn = tf.function(
      lambda cid: store.dataset_fn()(cid).reduce(np.int32(0), lambda acc, e: acc + e[1])
  )
  assert int(fn(tf.constant('victim'))) == 30
  assert int(fn(tf.constant('honest_0'))) == 9


def test_existing_directory_needs_overwrite(tmp_path):
  path = str(tmp_path / 's')
  store_lib.write_client_store(path, _clients())
  with pytest.raises(FileExistsError, match='overwrite'):
    store_lib.write_client_store(path, _clients())
  store = store_lib.write_client_store(path, _clients(seed=1), overwrite=True)
  np.testing.assert_array_equal(store.client_arrays('victim')[0], _clients(seed=1)['victim'][0])


def test_failed_write_leaves_nothing_behind(tmp_path):
  clients = _clients()
  clients['bad'] = (np.zeros((2, 4, 4, 1), np.float32), np.zeros(2, np.int32))
  with pytest.raises(ValueError, match='do not match'):
    store_lib.write_client_store(str(tmp_path / 's'), clients)
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    'client_id, x, y, message',
    [
        ('../escape', np.zeros((1, 8, 8, 1)), np.zeros(1), 'must match'),
        ('short', np.zeros((2, 8, 8, 1)), np.zeros(1), '2 images but 1 labels'),
    ],
)
def test_bad_clients(tmp_path, client_id, x, y, message):
  clients = {'victim': _clients()['victim'], client_id: (x, y)}
  with pytest.raises(ValueError, match=message):
    store_lib.write_client_store(str(tmp_path / 's'), clients)


def test_an_empty_client_is_kept_but_not_an_empty_store(tmp_path):
  # A victim that shares nothing (--defense=drop_class) stays a client.
  clients = {**_clients(), 'victim': (np.zeros((0, 8, 8, 1), np.float32),
                                      np.zeros(0, np.int32))}
  store = store_lib.write_client_store(str(tmp_path / 's'), clients)
  x, y = store.client_arrays('victim')
  assert x.shape == (0, 8, 8, 1) and y.shape == (0,)
  empty = {c: (x, y) for c in clients}
  with pytest.raises(ValueError, match='no image'):
    store_lib.write_client_store(str(tmp_path / 'e'), empty)


def test_damaged_store_and_missing_store(tmp_path):
  path = str(tmp_path / 's')
  store_lib.write_client_store(path, _clients())
  with open(os.path.join(path, 'victim.bin'), 'r+b') as f:
    f.truncate(10)
  with pytest.raises(ValueError, match='damaged'):
    store_lib.ClientStore(path)
  with pytest.raises(FileNotFoundError, match='No client store'):
    store_lib.ClientStore(str(tmp_path / 'nothing'))
  with pytest.raises(ValueError, match='at least one'):
    store_lib.write_client_store(str(tmp_path / 'e'), {})
