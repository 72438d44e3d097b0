"""The WGAN-GP losses of `antigan_tf.gan.losses` against values computed by hand."""

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf.gan import losses


def test_critic_generator_and_wasserstein_by_hand():
  real = tf.constant([[1.0], [3.0]])  # mean 2
  fake = tf.constant([[-1.0], [0.0], [4.0]])  # mean 1
  assert float(losses.critic_loss(real, fake)) == pytest.approx(1.0 - 2.0)
  assert float(losses.generator_loss(fake)) == pytest.approx(-1.0)
  assert float(losses.wasserstein_estimate(real, fake)) == pytest.approx(1.0)


def test_interpolate_per_sample_weights():
  real = tf.ones([2, 2, 2, 1])
  fake = tf.zeros([2, 2, 2, 1])
  mixed = losses.interpolate(real, fake, tf.constant([0.25, 1.0]))
  np.testing.assert_allclose(mixed[0].numpy(), 0.25)
  np.testing.assert_allclose(mixed[1].numpy(), 1.0)


def test_interpolation_weights_are_uniform_in_unit_interval():
  alpha = losses.sample_interpolation_weights(20000, seed=1).numpy()
  assert alpha.min() >= 0.0 and alpha.max() <= 1.0
  assert alpha.mean() == pytest.approx(0.5, abs=0.02)
  assert alpha.var() == pytest.approx(1 / 12, abs=0.01)  # Uniform, not normal.


def test_gradient_penalty_of_linear_critic_by_hand():
  # D(x) = sum(w * x): grad = w everywhere, ||w|| = sqrt(3^2 + 4^2) = 5,
  # penalty = (5 - 1)^2 = 16 whatever the interpolation.
  w = tf.constant([[3.0, 4.0]])

  def critic(x):
    return tf.reduce_sum(tf.reshape(x, [-1, 2]) * w, axis=1, keepdims=True)

  real = tf.random.normal([4, 1, 2, 1])
  fake = tf.random.normal([4, 1, 2, 1])
  gp = losses.gradient_penalty(critic, real, fake, epsilon=0.0)
  assert float(gp) == pytest.approx(16.0, rel=1e-6)


def test_gradient_penalty_norm_is_over_all_non_batch_axes():
  # D(x) = 0.5 * sum(x^2) per sample: grad = x, at alpha = 1 the norm is
  # ||real_i||. Sample 0 has norm 2 (four pixels of 1), sample 1 norm 0.
  def critic(x):
    return 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])

  real = tf.stack([tf.ones([2, 2, 1]), tf.zeros([2, 2, 1])])
  fake = tf.zeros_like(real)
  gp = losses.gradient_penalty(critic, real, fake, alpha=tf.ones([2]), epsilon=0.0)
  assert float(gp) == pytest.approx(((2.0 - 1.0) ** 2 + (0.0 - 1.0) ** 2) / 2)


def test_gradient_penalty_epsilon_keeps_gradient_finite_at_zero_norm():
  v = tf.Variable(0.0)

  def critic(x):
    return v * tf.reduce_sum(x, axis=[1, 2, 3])  # Gradient wrt x is 0 at v = 0.

  real = tf.ones([2, 2, 2, 1])
  with tf.GradientTape() as tape:
    gp = losses.gradient_penalty(critic, real, real)
  grad = tape.gradient(gp, v)
  assert np.isfinite(float(gp)) and float(gp) == pytest.approx(1.0, abs=1e-5)
  assert grad is not None and np.isfinite(float(grad))


def test_pixel_variance_by_hand():
  a = tf.reshape(tf.constant([1.0, -1.0, 1.0, -1.0]), [1, 2, 2, 1])  # var 1
  b = tf.reshape(tf.constant([0.0, 0.0, 0.0, 0.0]), [1, 2, 2, 1])  # var 0
  images = tf.concat([a, b], 0)
  np.testing.assert_allclose(losses.pixel_variance(images, reduce=False).numpy(), [1.0, 0.0])
  assert float(losses.pixel_variance(images)) == pytest.approx(0.5)


def test_mode_seeking_loss_by_hand():
  # d_I = mean |a - b| = 0.5, d_z = mean |za - zb| = 2: 1 / (0.25 + eps).
  a = tf.zeros([2, 2, 2, 1])
  b = tf.constant([[[[1.0], [0.0]], [[1.0], [0.0]]]] * 2)
  za, zb = tf.zeros([2, 3]), tf.fill([2, 3], 2.0)
  loss = losses.mode_seeking_loss(a, b, za, zb)
  np.testing.assert_allclose(float(loss), 1.0 / (0.25 + losses.MODE_SEEKING_EPSILON),
                             rtol=1e-6)


def test_mode_seeking_loss_is_largest_for_collapsed_images():
  za, zb = tf.zeros([4, 3]), tf.ones([4, 3])
  same = tf.fill([4, 2, 2, 1], 0.3)
  apart = tf.fill([4, 2, 2, 1], -0.3)
  collapsed = float(losses.mode_seeking_loss(same, same, za, zb))
  spread = float(losses.mode_seeking_loss(same, apart, za, zb))
  np.testing.assert_allclose(collapsed, 1.0 / losses.MODE_SEEKING_EPSILON, rtol=1e-6)
  assert spread < collapsed
  # A descent step moves b (below a) further below a: apart.
  b = tf.Variable(tf.fill([4, 2, 2, 1], 0.1))
  with tf.GradientTape() as tape:
    loss = losses.mode_seeking_loss(same, b, za, zb)
  assert float(tf.reduce_sum(tape.gradient(loss, b))) > 0
