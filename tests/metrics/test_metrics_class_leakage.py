"""Headline leakage metrics against hand-computed values and known answers."""

import numpy as np
import pytest

from antigan_tf.metrics import class_leakage


def test_kernel_distance_by_hand():
  # d = 1: k(a, b) = (ab + 1)^3.
  a = np.array([[0.0], [1.0]])
  b = np.array([[1.0], [2.0]])
  k_aa = 2 * (0 * 1 + 1) ** 3 / 2          # off-diagonal pairs (0,1),(1,0): 1 each
  k_bb = 2 * (1 * 2 + 1) ** 3 / 2          # 27 each
  k_ab = np.mean([(0 * 1 + 1) ** 3, (0 * 2 + 1) ** 3, (1 * 1 + 1) ** 3, (1 * 2 + 1) ** 3])
  assert class_leakage.kernel_distance(a, b) == pytest.approx(k_aa + k_bb - 2 * k_ab)


def test_kernel_distance_is_unbiased_for_one_distribution():
  rng = np.random.default_rng(0)
  values = [class_leakage.kernel_distance(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)))
            for _ in range(20)]
  assert abs(np.mean(values)) < 0.02
  shifted = class_leakage.kernel_distance(rng.normal(size=(200, 8)),
                                          rng.normal(1.0, 1.0, size=(200, 8)))
  assert shifted > 0.5


def test_manifold_metrics_by_hand():
  # Real points on a line 0..5 (k=1 radius 1); fakes at 0.5 (inside) and 10 (outside).
  real = np.arange(6, dtype=float)[:, None]
  fake = np.array([[0.5], [10.0], [10.5]])
  metrics = class_leakage.manifold_metrics(real, fake, k=1)
  assert metrics['precision'] == pytest.approx(1 / 3)
  # 0.5 lies in the balls of reals 0 and 1: density = 2 / (k * 3).
  assert metrics['density'] == pytest.approx(2 / 3)
  # Reals whose own ball holds a fake: 0 and 1.
  assert metrics['coverage'] == pytest.approx(2 / 6)
  # Fake radii (k=1): 0.5 -> 9.5, 10 -> 0.5, 10.5 -> 0.5; every real within 9.5 of 0.5.
  assert metrics['recall'] == pytest.approx(1.0)


def test_identical_sets_are_inside_each_other():
  rng = np.random.default_rng(1)
  real = rng.normal(size=(50, 4))
  metrics = class_leakage.manifold_metrics(real, real.copy())
  assert metrics['precision'] == 1.0 and metrics['recall'] == 1.0
  assert metrics['coverage'] == 1.0


def test_reference_sets_are_what_they_say():
  rng = np.random.default_rng(2)
  real = rng.uniform(-1, 1, size=(20, 4, 4, 1)).astype(np.float32)
  other = rng.uniform(-1, 1, size=(30, 4, 4, 1)).astype(np.float32)
  sets = class_leakage.reference_sets(real, other, count=10, seed=0)
  assert tuple(sets) == class_leakage.REFERENCE_NAMES
  assert all(len(images) == 10 for images in sets.values())
  np.testing.assert_array_equal(sets['held_out_real'], real[:10])
  assert set(np.unique(sets['binarised_mean'])) <= {-1.0, 1.0}
  assert np.all(sets['black'] == -1.0)
  assert np.all(np.abs(sets['uniform_noise']) <= 1) and sets['uniform_noise'].std() > 0.4
  # Noisy blobs scatter around the mean image.
  mean = real.mean(axis=0)
  assert np.abs(sets['noisy_blob'].mean(axis=0) - mean).max() < 0.3


def test_split_held_out_is_disjoint_and_seeded():
  x = np.arange(40, dtype=np.float32).reshape(40, 1, 1, 1) / 40
  y = np.array([6, 1] * 20)
  first, second = class_leakage.split_held_out(x, y, 6, seed=3)
  assert len(first) == len(second) == 10
  assert not set(first.ravel()) & set(second.ravel())
  again, _ = class_leakage.split_held_out(x, y, 6, seed=3)
  np.testing.assert_array_equal(first, again)
