"""Leakage and defended-data reports, with a hand-weighted oracle."""

import math

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf.metrics import frechet
from antigan_tf.metrics import leakage
from antigan_tf.metrics import similarity
from antigan_tf.metrics.oracle import Oracle

SIZE = 12  # >= the 11x11 SSIM window.


def _hand_oracle():
  """Features h = relu([mean, -mean]) of the pixels; logits = [2 h0, 2 h1, 0]."""
  inputs = tf.keras.Input((SIZE, SIZE, 1))
  hidden = tf.keras.layers.Dense(2, activation='relu')
  logits = tf.keras.layers.Dense(3, name='logits')
  model = tf.keras.Model(inputs, logits(hidden(tf.keras.layers.Flatten()(inputs))))
  n = SIZE * SIZE
  hidden.set_weights([np.tile([[1.0 / n, -1.0 / n]], (n, 1)), np.zeros(2)])
  logits.set_weights([np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]), np.zeros(3)])
  return Oracle(model)


def _constant(*values):
  return np.stack([np.full((SIZE, SIZE, 1), v, np.float32) for v in values])


def _noise(n, seed):
  return np.random.default_rng(seed).uniform(-1, 1, (n, SIZE, SIZE, 1)).astype(np.float32)


def test_oracle_rate_and_confidence_by_hand():
  # mean +0.5 -> logits (1, 0, 0); mean -0.5 -> logits (0, 1, 0).
  p_bright = math.e / (math.e + 2)  # P(class 0 | bright) = 0.576
  p_dark = 1 / (math.e + 2)  # P(class 0 | dark) = 0.212
  result = leakage.oracle_rate_and_confidence(_hand_oracle(), _constant(0.5, 0.5, -0.5), 0)
  assert result['oracle_rate'] == pytest.approx(2 / 3)
  assert result['oracle_confidence'] == pytest.approx((2 * p_bright + p_dark) / 3)


def test_leakage_report_without_oracle():
  real = _noise(6, 0)
  reconstructions = np.concatenate([real[:1], _noise(3, 1)])  # One exact copy.
  report = leakage.leakage_report(reconstructions, real)
  assert list(report) == ['nn_ssim_mean', 'nn_ssim_p95', 'nn_psnr_mean', 'nn_psnr_p95']
  ssim = similarity.nearest_neighbour_ssim(reconstructions, real)
  assert ssim[0] == pytest.approx(1.0, abs=1e-6)
  assert report['nn_ssim_mean'] == pytest.approx(ssim.mean())
  assert report['nn_ssim_p95'] == pytest.approx(np.percentile(ssim, 95))
  assert report['nn_psnr_mean'] == math.inf  # The copy.
  assert report['nn_psnr_p95'] == math.inf  # Position 2.85 reaches the sorted-last inf.


def test_leakage_report_with_oracle():
  oracle = _hand_oracle()
  real = np.clip(_constant(0.5, 0.4, 0.6, 0.3) + 0.1 * _noise(4, 2), -1, 1)
  reconstructions = np.clip(_constant(0.5, -0.5, 0.2) + 0.1 * _noise(3, 3), -1, 1)
  report = leakage.leakage_report(reconstructions, real, oracle=oracle, target_class=0)
  assert list(report) == ['nn_ssim_mean', 'nn_ssim_p95', 'nn_psnr_mean', 'nn_psnr_p95',
                          'oracle_rate', 'oracle_confidence', 'frechet_distance']
  assert report['oracle_rate'] == pytest.approx(2 / 3)
  expected = frechet.frechet_distance(oracle.features(reconstructions), oracle.features(real))
  assert report['frechet_distance'] == pytest.approx(expected)
  assert report['frechet_distance'] > 0
  same = leakage.leakage_report(real, real, oracle=oracle, target_class=0)
  assert same['frechet_distance'] == pytest.approx(0.0, abs=1e-6)
  assert same['nn_ssim_mean'] == pytest.approx(1.0, abs=1e-6)
  assert same['oracle_rate'] == 1.0


def test_leakage_report_rejects_bad_arguments():
  oracle = _hand_oracle()
  real, recon = _noise(3, 0), _noise(3, 1)
  with pytest.raises(ValueError, match='target_class.*required'):
    leakage.leakage_report(recon, real, oracle=oracle)
  with pytest.raises(ValueError, match='target_class.*only used with `oracle`'):
    leakage.leakage_report(recon, real, target_class=0)
  with pytest.raises(ValueError, match='target_class.*3 classes'):
    leakage.leakage_report(recon, real, oracle=oracle, target_class=3)
  with pytest.raises(ValueError, match='`oracle` must be'):
    leakage.leakage_report(recon, real, oracle=object(), target_class=0)
  with pytest.raises(ValueError, match='`reconstructions` has 1 image.*at least 2'):
    leakage.leakage_report(recon[:1], real, oracle=oracle, target_class=0)
  with pytest.raises(ValueError, match='`real_target_images`.*empty'):
    leakage.leakage_report(recon, real[:0])
  with pytest.raises(ValueError, match='`reconstructions` and `real_target_images`.*channel'):
    leakage.leakage_report(np.repeat(recon, 3, axis=-1), real)
  with pytest.raises(ValueError, match='oracle takes'):
    big = np.zeros((2, 16, 16, 1), np.float32)
    leakage.leakage_report(big, big, oracle=oracle, target_class=0)
  with pytest.raises(ValueError, match='`reconstructions`.*NaN'):
    leakage.oracle_rate_and_confidence(oracle, recon * np.nan, 0)


def test_defended_data_report_by_hand():
  checker = np.where(np.indices((SIZE, SIZE)).sum(axis=0) % 2, 1.0, -1.0)[..., None]
  x = np.stack([checker, np.full((SIZE, SIZE, 1), 0.3)]).astype(np.float32)  # Variances 1, 0.
  report = leakage.defended_data_report(x * 0.5, x)
  assert list(report) == ['pixel_variance_x', 'pixel_variance_x_prime', 'pixel_variance_ratio',
                          'nn_ssim_mean', 'nn_ssim_p95']
  assert report['pixel_variance_x'] == pytest.approx(0.5)
  assert report['pixel_variance_x_prime'] == pytest.approx(0.125)
  assert report['pixel_variance_ratio'] == pytest.approx(0.25)
  nn = similarity.nearest_neighbour_ssim(x * 0.5, x)
  assert report['nn_ssim_mean'] == pytest.approx(nn.mean())
  same = leakage.defended_data_report(x, x)
  assert same['pixel_variance_ratio'] == pytest.approx(1.0)
  assert same['nn_ssim_mean'] == pytest.approx(1.0, abs=1e-6)


def test_defended_data_report_rejects_bad_arguments():
  x = _noise(3, 0)
  with pytest.raises(ValueError, match='`x` has zero pixel variance'):
    leakage.defended_data_report(x, _constant(0.2, 0.2))
  with pytest.raises(ValueError, match='`x_prime`.*empty'):
    leakage.defended_data_report(x[:0], x)
  with pytest.raises(ValueError, match=r'`x_prime`.*\[-1, 1\]'):
    leakage.defended_data_report(x + 1.5, x)
  with pytest.raises(ValueError, match='`x_prime` and `x`.*same image shape'):
    leakage.defended_data_report(x, np.zeros((3, 16, 16, 1), np.float32))
