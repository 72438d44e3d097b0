"""Fréchet distance against Gaussians with a known answer."""

import numpy as np
import pytest

from antigan_tf.metrics import frechet


def test_identical_moments_give_zero():
  rng = np.random.default_rng(0)
  a = rng.normal(size=(5, 5))
  cov = a @ a.T + np.eye(5)
  mu = rng.normal(size=5)
  assert frechet.frechet_distance_from_moments(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-8)


def test_mean_shift_with_identity_covariances_is_squared_norm():
  d = np.array([1.0, -2.0, 0.5])
  value = frechet.frechet_distance_from_moments(np.zeros(3), np.eye(3), d, np.eye(3))
  assert value == pytest.approx(float(d @ d))  # 5.25


@pytest.mark.parametrize('k', [1, 4])
def test_scaled_covariance_by_hand(k):
  # Tr(I + 4I - 2 sqrt(4I)) = k (1 + 4 - 4) = k.
  value = frechet.frechet_distance_from_moments(np.ones(k), np.eye(k), np.ones(k), 4 * np.eye(k))
  assert value == pytest.approx(k)


def test_singular_covariances_are_handled():
  cov = np.diag([1.0, 0.0])
  value = frechet.frechet_distance_from_moments(np.zeros(2), cov, np.zeros(2), cov)
  assert value == pytest.approx(0.0, abs=1e-6)


def test_non_finite_square_root_retries_with_eps_offset(monkeypatch):
  calls = []
  real_sqrtm = frechet._sqrtm  # pylint: disable=protected-access

  def fake_sqrtm(matrix):
    calls.append(np.array(matrix))
    if len(calls) == 1:
      return np.full_like(matrix, np.nan)
    return real_sqrtm(matrix)

  monkeypatch.setattr(frechet, '_sqrtm', fake_sqrtm)
  value = frechet.frechet_distance_from_moments(
      np.zeros(2), np.eye(2), np.zeros(2), 9 * np.eye(2), eps=0.5)
  np.testing.assert_allclose(calls[1], (1.5 * np.eye(2)) @ (9.5 * np.eye(2)))
  # Traces of the original covariances, root of the offset product.
  assert value == pytest.approx(2 + 18 - 2 * 2 * np.sqrt(1.5 * 9.5))


def test_large_imaginary_part_is_an_error(monkeypatch):
  monkeypatch.setattr(frechet, '_sqrtm', lambda m: m + 1j * np.eye(2))
  with pytest.raises(ValueError, match='imaginary'):
    frechet.frechet_distance_from_moments(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2))


def test_sample_estimate_close_to_analytic_value():
  rng = np.random.default_rng(1)
  mu_a, mu_b = np.zeros(3), np.array([1.0, 0.0, -1.0])
  cov_a, cov_b = np.eye(3), np.diag([4.0, 1.0, 0.25])
  exact = frechet.frechet_distance_from_moments(mu_a, cov_a, mu_b, cov_b)
  # By hand: ||d||^2 = 2, Tr = (1 + 4 - 4) + (1 + 1 - 2) + (1 + 0.25 - 1) = 1.25.
  assert exact == pytest.approx(3.25)
  a = rng.multivariate_normal(mu_a, cov_a, size=20000)
  b = rng.multivariate_normal(mu_b, cov_b, size=20000)
  assert frechet.frechet_distance(a, b) == pytest.approx(exact, abs=0.1)
  assert frechet.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_one_feature_works():
  a = np.array([[0.0], [2.0]])  # mean 1, var 2
  b = np.array([[1.0], [5.0]])  # mean 3, var 8
  # (1 - 3)^2 + 2 + 8 - 2 sqrt(16) = 4 + 2 = 6.
  assert frechet.frechet_distance(a, b) == pytest.approx(6.0)


@pytest.mark.parametrize('a, b, match', [
    (np.zeros((1, 3)), np.zeros((5, 3)), 'features_a.*at least 2'),
    (np.zeros((5, 3)), np.zeros((0, 3)), 'features_b'),
    (np.zeros(5), np.zeros((5, 3)), 'features_a.*shape'),
    (np.zeros((5, 3)), np.zeros((5, 2)), 'same number of features'),
    (np.full((5, 3), np.nan), np.zeros((5, 3)), 'features_a.*NaN'),
])
def test_frechet_distance_rejects_bad_features(a, b, match):
  with pytest.raises(ValueError, match=match):
    frechet.frechet_distance(a, b)


@pytest.mark.parametrize('args, match', [
    ((np.zeros(2), np.eye(2), np.zeros(3), np.eye(3)), 'mu_a.*mu_b'),
    ((np.zeros(2), np.eye(3), np.zeros(2), np.eye(2)), 'cov_a'),
    ((np.zeros(2), np.eye(2), np.zeros(2), [[1.0, 0.5], [0.0, 1.0]]), 'cov_b.*symmetric'),
    ((np.zeros(2), np.eye(2), np.array([0.0, np.inf]), np.eye(2)), 'mu_b'),
    ((np.zeros(0), np.eye(0), np.zeros(0), np.eye(0)), 'mu_a'),
])
def test_moments_rejects_bad_input(args, match):
  with pytest.raises(ValueError, match=match):
    frechet.frechet_distance_from_moments(*args)
  with pytest.raises(ValueError, match='eps'):
    frechet.frechet_distance_from_moments(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), eps=0)


def test_the_square_root_is_scipys_on_either_scipy():
  matrix = np.array([[4.0, 1.0], [1.0, 3.0]])
  root = frechet._sqrtm(matrix)  # pylint: disable=protected-access
  np.testing.assert_allclose(root @ root, matrix, atol=1e-10)
