"""Tests of `antigan_tf.defense.mixing.mix_real`."""

import numpy as np
import pytest

from antigan_tf.defense import mixing

SHAPE = (4, 4, 1)


def _data(n_generated=10, n_real=12):
  rng = np.random.default_rng(0)
  x_generated = rng.uniform(-1, 1, (n_generated,) + SHAPE).astype(np.float32)
  y_generated = rng.integers(0, 10, n_generated)
  x_real = rng.uniform(-1, 1, (n_real,) + SHAPE).astype(np.float32)
  y_real = rng.integers(0, 10, n_real)
  return x_generated, y_generated, x_real, y_real


def _keys(images):
  return [image.tobytes() for image in images]


@pytest.mark.parametrize('ratio, expected_real', [(0.0, 0), (0.5, 5), (1.0, 10)])
def test_counts(ratio, expected_real):
  xg, yg, xr, yr = _data()
  x, y = mixing.mix_real(xg, yg, xr, yr, mix_ratio=ratio)
  assert x.shape == (10 + expected_real,) + SHAPE and len(y) == len(x)
  assert x.dtype == xg.dtype and y.dtype == yg.dtype
  keys = _keys(x)
  real_keys = set(_keys(xr))
  assert sum(k in real_keys for k in keys) == expected_real
  # Every generated image is there exactly once; real ones without repeats.
  assert sorted(k for k in keys if k not in real_keys) == sorted(_keys(xg))
  assert len(set(keys)) == len(keys)


def test_rounding_is_half_up():
  # Not Python's round(): 2.5 -> 3 (round-half-even would give 2).
  xg, yg, xr, yr = _data(n_generated=5)
  x, _ = mixing.mix_real(xg, yg, xr, yr, mix_ratio=0.5)
  assert len(x) == 8


def test_labels_stay_attached():
  xg, yg, xr, yr = _data()
  label_of = dict(zip(_keys(xg), yg))
  label_of.update(zip(_keys(xr), yr))
  x, y = mixing.mix_real(xg, yg, xr, yr, mix_ratio=1.0, seed=5)
  assert [label_of[k] for k in _keys(x)] == y.tolist()


def test_one_hot_labels_stay_attached():
  xg, yg, xr, yr = _data()
  one_hot = np.eye(10, dtype=np.float32)
  x, y = mixing.mix_real(xg, one_hot[yg], xr, one_hot[yr], mix_ratio=0.5)
  label_of = dict(zip(_keys(xg), yg))
  label_of.update(zip(_keys(xr), yr))
  assert y.shape == (15, 10)
  assert [label_of[k] for k in _keys(x)] == y.argmax(axis=1).tolist()


def test_zero_ratio_shares_no_real_image():
  xg, yg, xr, yr = _data(n_generated=20, n_real=30)
  x, y = mixing.mix_real(xg, yg, xr, yr, mix_ratio=0.0, seed=3)
  real_keys = set(_keys(xr))
  assert not any(k in real_keys for k in _keys(x))
  # Exactly the generated set (as a multiset), with its labels, shuffled.
  assert sorted(zip(_keys(x), y.tolist())) == sorted(zip(_keys(xg), yg.tolist()))
  assert not np.array_equal(x, xg)


def test_seeded_reproducibility():
  xg, yg, xr, yr = _data()
  a = mixing.mix_real(xg, yg, xr, yr, mix_ratio=0.5, seed=1)
  b = mixing.mix_real(xg, yg, xr, yr, mix_ratio=0.5, seed=1)
  c = mixing.mix_real(xg, yg, xr, yr, mix_ratio=0.5, seed=2)
  np.testing.assert_array_equal(a[0], b[0])
  np.testing.assert_array_equal(a[1], b[1])
  assert not np.array_equal(a[0], c[0])


def test_inputs_are_not_modified():
  xg, yg, xr, yr = _data()
  copies = [a.copy() for a in (xg, yg, xr, yr)]
  mixing.mix_real(xg, yg, xr, yr, mix_ratio=1.0)
  for original, copy in zip((xg, yg, xr, yr), copies):
    np.testing.assert_array_equal(original, copy)


@pytest.mark.parametrize('ratio', [-0.1, float('nan'), float('inf'), 'a', True])
def test_bad_ratio(ratio):
  xg, yg, xr, yr = _data()
  with pytest.raises(ValueError, match='mix_ratio'):
    mixing.mix_real(xg, yg, xr, yr, mix_ratio=ratio)


def test_too_many_real_images_requested():
  xg, yg, xr, yr = _data(n_generated=10, n_real=12)
  with pytest.raises(ValueError, match=r'requests 15 .* only 12 .*max mix_ratio = 1\.2'):
    mixing.mix_real(xg, yg, xr, yr, mix_ratio=1.5)


def test_mismatches_and_empty_set():
  xg, yg, xr, yr = _data()
  with pytest.raises(ValueError, match='shape'):
    mixing.mix_real(xg, yg, xr[:, :2], yr, mix_ratio=0.5)
  with pytest.raises(ValueError, match='dtype'):
    mixing.mix_real(xg, yg, xr.astype(np.float64), yr, mix_ratio=0.5)
  with pytest.raises(ValueError, match='y_generated'):
    mixing.mix_real(xg, yg.astype(np.int8), xr, yr, mix_ratio=0.5)
  with pytest.raises(ValueError, match='`x_generated` has 10 images but `y_generated` has 9'):
    mixing.mix_real(xg, yg[:9], xr, yr, mix_ratio=0.5)
  with pytest.raises(ValueError, match='`x_real` has 12 images but `y_real` has 11'):
    mixing.mix_real(xg, yg, xr, yr[:11], mix_ratio=0.5)
  with pytest.raises(ValueError, match='empty'):
    mixing.mix_real(xg[:0], yg[:0], xr, yr, mix_ratio=0.5)
  with pytest.raises(ValueError, match='seed'):
    mixing.mix_real(xg, yg, xr, yr, mix_ratio=0.5, seed=-1)


@pytest.mark.parametrize('count, ratio, projected', [(300, 0.5, 200), (300, 0.0, 300),
                                                     (10, 0.5, 7), (3, 10.0, 1)])
def test_replace_split_keeps_the_amount(count, ratio, projected):
  gen, real = mixing.replace_split(count, mix_ratio=ratio, seed=1)
  assert len(gen) == projected and len(gen) + len(real) == count
  assert sorted({*gen.tolist(), *real.tolist()}) == list(range(count))  # Disjoint, all.
  again = mixing.replace_split(count, mix_ratio=ratio, seed=1)
  np.testing.assert_array_equal(gen, again[0])
  with pytest.raises(ValueError, match='mix_ratio'):
    mixing.replace_split(count, mix_ratio=-1.0)
