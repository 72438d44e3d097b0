"""The leakage oracle: training, the disk cache and its refusals."""

import concurrent.futures
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf.data import sources
from antigan_tf.metrics import oracle as oracle_lib

NUM_TRAIN = 300


@pytest.fixture(scope='module')
def fashion_cache(tmp_path_factory):
  """A Fashion-MNIST oracle trained for 1 epoch on 300 images, in a tmp dir."""
  cache_dir = str(tmp_path_factory.mktemp('oracle_cache'))
  oracle = oracle_lib.load_or_train_oracle(
      cache_dir, dataset='fashion_mnist', epochs=1, max_train_examples=NUM_TRAIN, progress=False)
  return cache_dir, oracle


@pytest.fixture(scope='module')
def test_images():
  return sources.load_dataset('fashion_mnist', split='test').x[:20]


def _mtimes(paths):
  return [os.stat(p).st_mtime_ns for p in paths]


def test_trained_oracle_and_sidecar(fashion_cache):
  cache_dir, oracle = fashion_cache
  model_path, meta_path = oracle_lib.cache_paths(cache_dir, 'fashion_mnist')
  assert oracle.path == model_path and os.path.exists(model_path)
  assert not oracle.loaded_from_cache
  assert oracle.image_shape == (28, 28, 1) and oracle.num_classes == 10
  with open(meta_path) as f:
    meta = json.load(f)
  assert meta['dataset'] == 'fashion_mnist'
  assert meta['image_shape'] == [28, 28, 1]
  assert meta['num_classes'] == 10
  assert (meta['epochs'], meta['seed']) == (1, 0)
  assert meta['max_train_examples'] == meta['num_train_examples'] == NUM_TRAIN
  assert len(meta['data_fingerprint']) == 16
  assert 0.0 <= meta['final_train_accuracy'] <= 1.0
  assert not [name for name in os.listdir(cache_dir) if 'tmp' in name]


def test_second_call_reuses_the_cache(fashion_cache, test_images):
  cache_dir, trained = fashion_cache
  paths = oracle_lib.cache_paths(cache_dir, 'fashion_mnist')
  before = _mtimes(paths)
  loaded = oracle_lib.load_or_train_oracle(
      cache_dir, dataset='fashion_mnist', epochs=1, max_train_examples=NUM_TRAIN, progress=False)
  assert loaded.loaded_from_cache
  assert _mtimes(paths) == before  # Nothing rewritten, no retraining.
  np.testing.assert_allclose(loaded.predict_logits(test_images),
                             trained.predict_logits(test_images), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(loaded.features(test_images), trained.features(test_images),
                             rtol=1e-5, atol=1e-5)
  assert loaded.metadata['data_fingerprint'] == trained.metadata['data_fingerprint']


def test_predictions_and_features(fashion_cache, test_images):
  _, oracle = fashion_cache
  probs = oracle.predict_proba(test_images)
  assert probs.shape == (20, 10)
  np.testing.assert_allclose(probs.sum(axis=1), 1.0)
  np.testing.assert_array_equal(oracle.predict_labels(test_images), probs.argmax(axis=1))
  features = oracle.features(test_images, batch_size=7)
  assert oracle.feature_dim == oracle_lib.DENSE_UNITS == 128
  assert features.shape == (20, 128)
  assert features.min() >= 0.0  # After the hidden layer's ReLU.
  # The logits are the last Dense layer applied to these features.
  kernel, bias = oracle.model.get_layer('logits').get_weights()
  np.testing.assert_allclose(features @ kernel + bias, oracle.predict_logits(test_images),
                             rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('kwargs, match', [
    ({'epochs': 2}, 'epochs: cached 1, requested 2'),
    ({'max_train_examples': 200}, 'max_train_examples: cached 300, requested 200'),
    ({'seed': 1}, 'seed'),
])
def test_other_settings_are_refused(fashion_cache, kwargs, match):
  cache_dir, _ = fashion_cache
  paths = oracle_lib.cache_paths(cache_dir, 'fashion_mnist')
  before = _mtimes(paths)
  settings = dict(dataset='fashion_mnist', epochs=1, max_train_examples=NUM_TRAIN, progress=False)
  settings.update(kwargs)
  with pytest.raises(ValueError, match=match) as info:
    oracle_lib.load_or_train_oracle(cache_dir, **settings)
  assert 'another `cache_dir`' in str(info.value) and 'delete' in str(info.value)
  assert _mtimes(paths) == before


def test_cache_of_another_dataset_is_refused(fashion_cache, tmp_path):
  cache_dir, _ = fashion_cache
  model_path, meta_path = oracle_lib.cache_paths(cache_dir, 'fashion_mnist')
  new_model, new_meta = oracle_lib.cache_paths(tmp_path, 'fashion_mnist')
  shutil.copy(model_path, new_model)
  with open(meta_path) as f:
    meta = json.load(f)
  meta.update(dataset='mnist', data_fingerprint='0123456789abcdef')
  with open(new_meta, 'w') as f:
    json.dump(meta, f)
  with pytest.raises(ValueError, match="dataset: cached 'mnist', requested 'fashion_mnist'"):
    oracle_lib.load_or_train_oracle(
        tmp_path, dataset='fashion_mnist', epochs=1, max_train_examples=NUM_TRAIN,
        progress=False)


def test_incomplete_or_corrupt_cache_is_refused(fashion_cache, tmp_path):
  cache_dir, _ = fashion_cache
  model_path, meta_path = oracle_lib.cache_paths(cache_dir, 'fashion_mnist')
  new_model, new_meta = oracle_lib.cache_paths(tmp_path, 'fashion_mnist')
  settings = dict(dataset='fashion_mnist', epochs=1, max_train_examples=NUM_TRAIN, progress=False)
  shutil.copy(model_path, new_model)
  with pytest.raises(ValueError, match='Incomplete oracle cache.*json does not'):
    oracle_lib.load_or_train_oracle(tmp_path, **settings)
  shutil.copy(meta_path, new_meta)
  with open(new_model, 'wb') as f:
    f.write(b'not a zip file')
  with pytest.raises(ValueError, match='not a readable Keras model'):
    oracle_lib.load_or_train_oracle(tmp_path, **settings)
  with open(new_meta, 'w') as f:
    f.write('{broken')
  with pytest.raises(ValueError, match='sidecar.*unreadable'):
    oracle_lib.load_or_train_oracle(tmp_path, **settings)


def _write_local(path, seed):
  rng = np.random.default_rng(seed)
  x = rng.uniform(-1, 1, (64, 8, 8, 1)).astype(np.float32)
  y = np.arange(64) % 2
  x[y == 1] = np.clip(x[y == 1] + 0.5, -1, 1)  # Class 1 is brighter.
  np.savez(path, x=x, y=y)
  return str(path)


def test_local_data_with_other_content_is_refused(tmp_path):
  first = _write_local(tmp_path / 'first.npz', 0)
  second = _write_local(tmp_path / 'second.npz', 1)
  cache = tmp_path / 'cache'
  oracle = oracle_lib.load_or_train_oracle(cache, dataset='local', data_dir=first, epochs=1,
                                           progress=False)
  assert oracle.image_shape == (8, 8, 1) and oracle.num_classes == 2
  again = oracle_lib.load_or_train_oracle(cache, dataset='local', data_dir=first, epochs=1,
                                          progress=False)
  assert again.loaded_from_cache
  with pytest.raises(ValueError, match='data_fingerprint'):
    oracle_lib.load_or_train_oracle(cache, dataset='local', data_dir=second, epochs=1,
                                    progress=False)


def test_train_oracle_is_seeded_and_learns_a_toy_task():
  rng = np.random.default_rng(0)
  y = np.arange(128) % 2
  x = np.where(y[:, None, None, None] == 1, 0.6, -0.6) + rng.normal(0, 0.2, (128, 8, 8, 1))
  x = np.clip(x, -1, 1).astype(np.float32)
  first = oracle_lib.train_oracle(x, y, num_classes=2, epochs=2, batch_size=16, seed=3, width=4)
  second = oracle_lib.train_oracle(x, y, num_classes=2, epochs=2, batch_size=16, seed=3, width=4)
  for a, b in zip(first.get_weights(), second.get_weights()):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  assert first.output_shape == (None, 2)
  oracle = oracle_lib.Oracle(first)
  assert oracle.feature_dim == oracle_lib.DENSE_UNITS
  assert np.mean(oracle.predict_labels(x) == y) > 0.9


@pytest.mark.parametrize('kwargs, match', [
    ({'num_classes': 0}, 'num_classes'),
    ({'epochs': 0}, 'epochs'),
    ({'batch_size': 0}, 'batch_size'),
    ({'seed': -1}, 'seed'),
    ({'width': 0}, 'width'),
])
def test_train_oracle_rejects_bad_numbers(kwargs, match):
  x = np.zeros((4, 8, 8, 1), np.float32)
  args = dict(num_classes=2)
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    oracle_lib.train_oracle(x, [0, 1, 0, 1], **args)


def test_train_oracle_rejects_bad_data():
  x = np.zeros((4, 8, 8, 1), np.float32)
  with pytest.raises(ValueError, match='`y` has 3 labels for 4 images'):
    oracle_lib.train_oracle(x, [0, 1, 0], num_classes=2)
  with pytest.raises(ValueError, match='`y`.*labels in'):
    oracle_lib.train_oracle(x, [0, 1, 0, 2], num_classes=2)
  with pytest.raises(ValueError, match='`x`.*empty'):
    oracle_lib.train_oracle(x[:0], [], num_classes=2)
  with pytest.raises(ValueError, match=r'`x`.*\[-1, 1\]'):
    oracle_lib.train_oracle(x + 2, [0, 1, 0, 1], num_classes=2)


def test_load_or_train_rejects_bad_arguments(tmp_path):
  with pytest.raises(ValueError, match='dataset'):
    oracle_lib.load_or_train_oracle(tmp_path, dataset='../evil')
  with pytest.raises(ValueError, match='epochs'):
    oracle_lib.load_or_train_oracle(tmp_path, epochs=0)
  with pytest.raises(ValueError, match='max_train_examples'):
    oracle_lib.load_or_train_oracle(tmp_path, max_train_examples=0)
  with pytest.raises(ValueError, match='cache_dir'):
    oracle_lib.load_or_train_oracle(None)
  assert os.listdir(tmp_path) == []


def test_oracle_rejects_wrong_images(fashion_cache):
  _, oracle = fashion_cache
  with pytest.raises(ValueError, match=r'`x` images have shape.*expected \(28, 28, 1\)'):
    oracle.predict_proba(np.zeros((2, 32, 32, 3), np.float32))
  with pytest.raises(ValueError, match='`x`.*NaN'):
    oracle.features(np.full((2, 28, 28, 1), np.nan, np.float32))
  with pytest.raises(ValueError, match='`model`'):
    oracle_lib.Oracle('model')


def test_concurrent_callers_train_once_and_share_the_cache(tmp_path):
  # Parallel sweep runs share one cache: the flock makes one train, the
  # others wait and load.
  settings = dict(dataset='fashion_mnist', epochs=1, max_train_examples=200, progress=False)
  with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
    oracles = list(pool.map(
        lambda _: oracle_lib.load_or_train_oracle(tmp_path, **settings), range(2)))
  assert sorted(o.loaded_from_cache for o in oracles) == [False, True]
