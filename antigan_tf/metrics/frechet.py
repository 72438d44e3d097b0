"""Fréchet distance between two feature distributions (the FID formula).

For Gaussians N(mu_a, S_a) and N(mu_b, S_b) the squared 2-Wasserstein
(Fréchet) distance is

    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

With Inception features this is FID (Heusel et al., 2017); here the features
are the evaluation network's pooled features (`EvaluationNetwork.features`), so
the numbers are comparable within this project only, not with published FIDs.
The matrix square root follows the usual FID code (pytorch-fid, TTUR):
`scipy.linalg.sqrtm`; if it is not finite (singular product), eps * I is added
to both covariances; an imaginary part from round-off is dropped, a large one
is an error.
"""

import inspect
import warnings

import numpy as np
from scipy import linalg

from antigan_tf.utils import checks

DEFAULT_EPS = 1e-6
# Largest |imaginary part| on the diagonal of sqrt(S_a S_b) that counts as
# round-off (the value pytorch-fid uses).
IMAGINARY_TOLERANCE = 1e-3


# SciPy 1.9 (the TFF stack's) prints a warning for an ill-conditioned matrix
# unless `disp=False`, which then also returns an error estimate; SciPy 1.18
# (the modern stack's) has no `disp` and never prints.
_SQRTM_TAKES_DISP = 'disp' in inspect.signature(linalg.sqrtm).parameters


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
  if _SQRTM_TAKES_DISP:
    return linalg.sqrtm(matrix, disp=False)[0]
  with warnings.catch_warnings():  # The result is checked by the caller.
    warnings.simplefilter('ignore', linalg.LinAlgWarning)
    return linalg.sqrtm(matrix)


def _check_features(features, argname: str) -> np.ndarray:
  array = np.asarray(features)
  if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
    raise ValueError(f'`{argname}` must hold numbers, got dtype {array.dtype}.')
  if array.ndim != 2:
    raise ValueError(f'`{argname}` must have shape (num_samples, num_features), got shape '
                     f'{array.shape}.')
  if array.shape[1] < 1:
    raise ValueError(f'`{argname}` has no features, shape {array.shape}.')
  if array.shape[0] < 2:
    raise ValueError(f'`{argname}` has {array.shape[0]} sample(s); a covariance needs at '
                     'least 2.')
  array = array.astype(np.float64)
  if not np.all(np.isfinite(array)):
    raise ValueError(f'`{argname}` has NaN/inf values.')
  return array


def _check_mean(mu, argname: str) -> np.ndarray:
  array = np.asarray(mu, dtype=np.float64)
  if array.ndim != 1 or array.size == 0:
    raise ValueError(f'`{argname}` must be a non-empty vector (d,), got shape {array.shape}.')
  if not np.all(np.isfinite(array)):
    raise ValueError(f'`{argname}` has NaN/inf values.')
  return array


def _check_cov(cov, argname: str, dim: int) -> np.ndarray:
  array = np.asarray(cov, dtype=np.float64)
  if array.shape != (dim, dim):
    raise ValueError(f'`{argname}` must have shape ({dim}, {dim}) to match the mean, got '
                     f'{array.shape}.')
  if not np.all(np.isfinite(array)):
    raise ValueError(f'`{argname}` has NaN/inf values.')
  scale = max(1.0, float(np.max(np.abs(array))))
  if not np.allclose(array, array.T, rtol=1e-5, atol=1e-8 * scale):
    raise ValueError(f'`{argname}` is not symmetric; expected a covariance matrix.')
  return array


def frechet_distance_from_moments(
    mu_a, cov_a, mu_b, cov_b, *, eps: float = DEFAULT_EPS,
) -> float:
  """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 sqrt(S_a S_b)).

  Args:
    mu_a: (d,) mean of the first distribution.
    cov_a: (d, d) its covariance (symmetric, positive semi-definite).
    mu_b: (d,) mean of the second distribution.
    cov_b: (d, d) its covariance.
    eps: added to both covariances' diagonals when sqrt(S_a S_b) is not
      finite (a singular product).

  Returns:
    The squared Fréchet distance, >= 0 (round-off below 0 is clipped to 0).

  Raises:
    ValueError: shapes that do not match, NaN/inf, non-symmetric covariances,
      a bad `eps`, or a square root with a large imaginary part.
  """
  mu_a = _check_mean(mu_a, 'mu_a')
  mu_b = _check_mean(mu_b, 'mu_b')
  if mu_a.shape != mu_b.shape:
    raise ValueError(f'`mu_a` and `mu_b` must have the same dimension, got {mu_a.shape} and '
                     f'{mu_b.shape}.')
  dim = mu_a.shape[0]
  cov_a = _check_cov(cov_a, 'cov_a', dim)
  cov_b = _check_cov(cov_b, 'cov_b', dim)
  eps = checks.check_positive_float(eps, 'eps')

  diff = mu_a - mu_b
  # A singular product (e.g. identical images) makes scipy's error estimate
  # divide by zero; the result is checked below and retried with an offset.
  with np.errstate(invalid='ignore', divide='ignore'):
    covmean = _sqrtm(cov_a.dot(cov_b))
  if not np.all(np.isfinite(covmean)):
    offset = np.eye(dim) * eps
    covmean = _sqrtm((cov_a + offset).dot(cov_b + offset))
  if np.iscomplexobj(covmean):
    if not np.allclose(np.diagonal(covmean).imag, 0, atol=IMAGINARY_TOLERANCE):
      raise ValueError(
          'sqrt(cov_a @ cov_b) has an imaginary component of up to '
          f'{np.max(np.abs(covmean.imag)):.3g}; are both covariances positive semi-definite?')
    covmean = covmean.real
  value = diff.dot(diff) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean)
  return max(0.0, float(value))


def frechet_distance(features_a, features_b, *, eps: float = DEFAULT_EPS) -> float:
  """Fréchet distance between Gaussians fitted to two feature sets.

  Means and unbiased covariances (`np.cov`, ddof 1) of each set go into
  `frechet_distance_from_moments`. With fewer samples than features the
  covariances are singular and the estimate is biased upwards; compare values
  computed from equally many samples.

  Args:
    features_a: (N_a, d) features, N_a >= 2.
    features_b: (N_b, d) features, N_b >= 2.
    eps: see `frechet_distance_from_moments`.

  Returns:
    The squared Fréchet distance, >= 0.

  Raises:
    ValueError: not 2-D, fewer than 2 samples, different feature dimensions,
      NaN/inf, or as `frechet_distance_from_moments`.
  """
  features_a = _check_features(features_a, 'features_a')
  features_b = _check_features(features_b, 'features_b')
  if features_a.shape[1] != features_b.shape[1]:
    raise ValueError(f'`features_a` and `features_b` must have the same number of features, '
                     f'got {features_a.shape[1]} and {features_b.shape[1]}.')
  moments = []
  for features in (features_a, features_b):
    moments += [features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))]
  return frechet_distance_from_moments(*moments, eps=eps)
