"""Leakage and defended-data reports; class-level metrics with a hand-weighted
evaluation network."""

import math

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf.metrics import frechet
from antigan_tf.metrics import leakage
from antigan_tf.metrics import similarity
from antigan_tf.metrics import class_leakage
from antigan_tf.metrics.evaluation_network import EvaluationNetwork

SIZE = 12  # >= the 11x11 SSIM window.


def _hand_network():
  """Features h = relu([mean, -mean]) of the pixels; logits = [2 h0, 2 h1, 0]."""
  inputs = tf.keras.Input((SIZE, SIZE, 1))
  hidden = tf.keras.layers.Dense(2, activation='relu', name='features')
  logits = tf.keras.layers.Dense(3, name='logits')
  model = tf.keras.Model(inputs, logits(hidden(tf.keras.layers.Flatten()(inputs))))
  n = SIZE * SIZE
  hidden.set_weights([np.tile([[1.0 / n, -1.0 / n]], (n, 1)), np.zeros(2)])
  logits.set_weights([np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]), np.zeros(3)])
  return EvaluationNetwork(model, metadata={})


def _constant(*values):
  return np.stack([np.full((SIZE, SIZE, 1), v, np.float32) for v in values])


def _noise(n, seed):
  return np.random.default_rng(seed).uniform(-1, 1, (n, SIZE, SIZE, 1)).astype(np.float32)


def test_confident_rate_by_hand():
  # mean +0.5 -> logits (1, 0, 0); mean -0.5 -> logits (0, 1, 0).
  p_bright = math.e / (math.e + 2)  # P(class 0 | bright) = 0.576
  network = _hand_network()
  probs = network.predict_proba(_constant(0.5, -0.5))
  assert probs[0, 0] == pytest.approx(p_bright)
  samples = _constant(0.5, 0.5, -0.5)
  assert class_leakage.confident_rate(network, samples, 0, threshold=0.5) == pytest.approx(2 / 3)
  assert class_leakage.confident_rate(network, samples, 0, threshold=0.6) == 0.0


def test_class_leakage_report_against_held_out_images():
  network = _hand_network()
  rng = np.random.default_rng(4)
  held = np.clip(_constant(*rng.uniform(0.3, 0.7, 40)), -1, 1)
  held_out = class_leakage.HeldOut(network, held, 0)
  # The 5th-percentile threshold leaves 95% of the held-out images confident.
  assert held_out.own_rate == pytest.approx(0.95, abs=0.03)
  same = class_leakage.class_leakage_report(held, held_out)
  assert same['frechet_distance'] == pytest.approx(0.0, abs=1e-6)
  assert same['confident_rate_ratio'] == pytest.approx(1.0)
  assert same['precision'] == 1.0 and same['few_samples'] == 1.0
  dark = class_leakage.class_leakage_report(_constant(*rng.uniform(-0.7, -0.3, 40)), held_out)
  assert dark['frechet_distance'] > 0.1 and dark['kid'] > same['kid']
  assert dark['confident_rate'] == 0.0 and dark['precision'] == 0.0 and dark['coverage'] == 0.0
  expected = frechet.frechet_distance(network.features(_constant(*rng.uniform(-0.7, -0.3, 40))),
                                      held_out.features)
  assert expected > 0.1


def test_instance_leakage_finds_copies():
  network = _hand_network()
  private = _constant(0.5, 0.1, -0.2)
  public = _constant(0.9, 0.8)
  baseline = class_leakage.InstanceBaseline(network, private, public)
  copies = class_leakage.instance_leakage(baseline, private.copy())
  assert copies['instance_leak_rate_features'] == 1.0
  assert copies['instance_leak_rate_ssim'] == 1.0  # A copy's SSIM is 1.
  far = class_leakage.instance_leakage(baseline, _constant(-0.9, -0.95))
  assert far['instance_leak_rate_features'] == pytest.approx(1 / 3)  # Only -0.2 is nearer.


def test_leakage_report_by_hand():
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


def test_leakage_report_rejects_bad_arguments():
  real, recon = _noise(3, 0), _noise(3, 1)
  with pytest.raises(ValueError, match='`real_target_images`.*empty'):
    leakage.leakage_report(recon, real[:0])
  with pytest.raises(ValueError, match='`reconstructions` and `real_target_images`.*channel'):
    leakage.leakage_report(np.repeat(recon, 3, axis=-1), real)
  with pytest.raises(ValueError, match='`reconstructions`.*NaN'):
    leakage.leakage_report(recon * np.nan, real)


def test_defended_data_report_by_hand():
  checker = np.where(np.indices((SIZE, SIZE)).sum(axis=0) % 2, 1.0, -1.0)[..., None]
  x = np.stack([checker, np.full((SIZE, SIZE, 1), 0.3)]).astype(np.float32)  # Variances 1, 0.
  report = leakage.defended_data_report(x * 0.5, x)
  assert list(report) == ['pixel_variance_x', 'pixel_variance_x_prime', 'pixel_variance_ratio',
                          'saturated_share_x', 'saturated_share_x_prime',
                          'mean_pairwise_ssim_x', 'mean_pairwise_ssim_x_prime',
                          'nn_ssim_mean', 'nn_ssim_p95']
  # The checkerboard is all +-1 (saturated), the flat image 0.3; halved, none.
  assert report['saturated_share_x'] == pytest.approx(0.5)
  assert report['saturated_share_x_prime'] == 0.0
  assert report['mean_pairwise_ssim_x'] == pytest.approx(similarity.mean_pairwise_ssim(x))
  assert report['pixel_variance_x'] == pytest.approx(0.5)
  assert report['pixel_variance_x_prime'] == pytest.approx(0.125)
  assert report['pixel_variance_ratio'] == pytest.approx(0.25)
  nn = similarity.nearest_neighbour_ssim(x * 0.5, x)
  assert report['nn_ssim_mean'] == pytest.approx(nn.mean())
  same = leakage.defended_data_report(x, x)
  assert same['pixel_variance_ratio'] == pytest.approx(1.0)
  assert same['nn_ssim_mean'] == pytest.approx(1.0, abs=1e-6)


def test_split_real_copies_finds_the_mixed_in_images():
  real = _noise(4, 0)
  generated = _noise(3, 1)
  shared = np.concatenate([generated[:1], real[2:3], generated[1:], real[:1]])
  gen, copies = leakage.split_real_copies(shared, real)
  np.testing.assert_array_equal(gen, generated)
  np.testing.assert_array_equal(copies, real[[2, 0]])
  almost = real[:1] + 1e-3  # Not a copy: a generated image close to a real one.
  assert len(leakage.split_real_copies(almost, real)[1]) == 0


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
