"""Anti-GAN's loss terms against values computed by hand."""

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf.defense import losses


def test_similarity_target_modes_by_hand():
  x = tf.constant(np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4, 1))
  np.testing.assert_array_equal(losses.similarity_target(x, mode='per_sample').numpy(), x.numpy())
  mean = losses.similarity_target(x, mode='mean').numpy()
  assert mean.shape == (1, 4, 4, 1)
  np.testing.assert_allclose(mean[0, :, :, 0], (x[0, :, :, 0] + x[1, :, :, 0]).numpy() / 2)
  pooled = losses.similarity_target(x, mode='mean_maxpool').numpy()
  assert pooled.shape == (1, 2, 2, 1)
  # Image 0 holds 0..15 row-major: 2x2 maxima 5, 7, 13, 15; image 1 adds 16.
  np.testing.assert_allclose(pooled[0, :, :, 0], [[5 + 8, 7 + 8], [13 + 8, 15 + 8]])


def test_similarity_loss_averages_pixels_and_batch():
  generated = tf.constant([[[[1.0], [2.0]]], [[[0.0], [0.0]]]])  # (2, 1, 2, 1)
  target = tf.zeros([1, 1, 2, 1])
  per_sample = losses.similarity_loss(generated, target, mode='mean', reduce=False).numpy()
  np.testing.assert_allclose(per_sample, [(1.0 + 4.0) / 2, 0.0])
  assert float(losses.similarity_loss(generated, target, mode='mean')) == pytest.approx(1.25)


def test_paper_lambda1_divides_by_the_pixel_count():
  # The paper's 0.005 on the pixel sum is 0.005 * 784 on the mean.
  assert losses.paper_lambda1(3.92, (28, 28, 1)) == pytest.approx(0.005)
  assert losses.paper_lambda1(15.36, (32, 32, 3)) == pytest.approx(0.005)


def test_similarity_loss_maxpools_generated_for_mean_maxpool():
  generated = tf.reshape(tf.constant([1.0, 5.0, 2.0, 3.0]), [1, 2, 2, 1])
  target = tf.constant([[[[4.0]]]])
  # maxpool -> 5; (5 - 4)^2 = 1.
  assert float(losses.similarity_loss(generated, target, mode='mean_maxpool')) == pytest.approx(1.0)


def test_obfuscation_loss_by_hand():
  a = tf.reshape(tf.constant([1.0, -1.0, 1.0, -1.0]), [1, 2, 2, 1])  # var 1
  b = tf.reshape(tf.constant([0.0, 0.0, 0.0, 0.0]), [1, 2, 2, 1])  # var 0
  c = tf.reshape(tf.constant([2.0, -2.0, 2.0, -2.0]), [1, 2, 2, 1])  # var 4
  # The batch's L_obf is the mean of its images' log variances (as the
  # projection's), not the log of their mean variance.
  assert float(losses.obfuscation_loss(tf.concat([a, c], 0))) == pytest.approx(
      np.log(4.0) / 2, rel=1e-5)
  images = tf.concat([a, b], 0)
  assert float(losses.obfuscation_loss(images, epsilon=1e-8)) == pytest.approx(
      np.log(1e-8) / 2, rel=1e-5)
  per_sample = losses.obfuscation_loss(images, reduce=False).numpy()
  assert per_sample[0] == pytest.approx(0.0, abs=1e-6)
  assert np.isfinite(per_sample[1])  # Epsilon keeps a constant image finite.
  # From an already computed variance: the same log.
  variance = tf.constant([1.0, 0.0])
  np.testing.assert_array_equal(losses.obfuscation_from_variance(variance).numpy(), per_sample)


def test_anti_gan_objective_signs_and_zero_lambdas():
  images = tf.reshape(tf.constant([1.0, -1.0, 1.0, -1.0]), [1, 2, 2, 1])  # var 1
  target = tf.zeros([1, 2, 2, 1])  # L_sim = 1 (the per-pixel mean)
  common = dict(target_mode='mean')
  maximise = losses.anti_gan_objective(images, target, lambda1=0.5, lambda2=2.0, variance_mode='max', **common)
  minimise = losses.anti_gan_objective(images, target, lambda1=0.5, lambda2=2.0, variance_mode='min', **common)
  log_var = np.log(1.0 + losses.VARIANCE_EPSILON)
  assert float(maximise) == pytest.approx(0.5 * 1 - 2.0 * log_var)
  assert float(minimise) == pytest.approx(0.5 * 1 + 2.0 * log_var)
  # Zero lambdas add exactly zero, even for an image whose log-variance is -inf-ish.
  flat = tf.fill([3, 2, 2, 1], np.nan)
  assert float(losses.anti_gan_objective(flat, target, lambda1=0.0, lambda2=0.0, **common)) == 0.0


def test_anti_gan_objective_per_sample_shape_with_one_term_off():
  images = tf.reshape(tf.constant([1.0, -1.0, 1.0, -1.0, 0.0, 0.0, 0.0, 2.0]), [2, 2, 2, 1])
  target = tf.zeros([1, 2, 2, 1])  # L_sim = 1 and 1.
  only_sim = losses.anti_gan_objective(
      images, target, lambda1=0.5, lambda2=0.0, target_mode='mean', reduce=False).numpy()
  np.testing.assert_allclose(only_sim, [0.5, 0.5])
  # Variances 1 and 0.75; 'min' flips the sign of the log.
  only_obf = losses.anti_gan_objective(
      images, target, lambda1=0.0, lambda2=2.0, variance_mode='min', target_mode='mean',
      reduce=False).numpy()
  np.testing.assert_allclose(only_obf, 2.0 * np.log([1.0, 0.75]), rtol=1e-6, atol=1e-6)


def test_anti_gan_terms_by_hand():
  similarity = tf.constant(4.0)
  obfuscation = tf.constant(-1.5)
  assert float(losses.anti_gan_terms(
      similarity, obfuscation, lambda1=0.5, lambda2=2.0, variance_mode='max')) == 2.0 + 3.0
  assert float(losses.anti_gan_terms(
      similarity, obfuscation, lambda1=0.5, lambda2=2.0, variance_mode='min')) == 2.0 - 3.0
  # A zero-weight term is not added, even when it is NaN.
  nan = tf.constant(np.nan, tf.float32)
  assert float(losses.anti_gan_terms(nan, obfuscation, lambda1=0.0, lambda2=2.0)) == 3.0
  assert float(losses.anti_gan_terms(similarity, nan, lambda1=0.5, lambda2=0.0)) == 2.0
  assert float(losses.anti_gan_terms(nan, nan, lambda1=0.0, lambda2=0.0)) == 0.0


def test_unknown_modes_are_rejected():
  x = tf.zeros([1, 2, 2, 1])
  with pytest.raises(ValueError, match='target_mode'):
    losses.similarity_target(x, mode='median')
  with pytest.raises(ValueError, match='variance_mode'):
    losses.variance_sign('both')
  with pytest.raises(ValueError, match='variance_mode'):
    losses.anti_gan_terms(tf.constant(0.0), tf.constant(0.0), lambda1=1.0, lambda2=1.0,
                          variance_mode='both')
