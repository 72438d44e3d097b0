"""Losses of the WGAN-GP as pure functions of tensors.

No Keras state here: every function maps tensors to tensors, so each can be
checked against hand-computed values and reused in any training loop.

Sign conventions (all are quantities to *minimise*):

* critic:    E[D(G(z))] - E[D(x)]                  (Arjovsky et al., eq. 4)
* generator: -E[D(G(z))]
* gradient penalty: E[(||grad_xhat D(xhat)||_2 - 1)^2], xhat = a x + (1-a) G(z),
  a ~ U[0, 1] per sample (Gulrajani et al., 2017)

`pixel_variance` (each image's variance over its pixels) is not a WGAN loss,
but the statistic that both the Anti-GAN objective and the metrics build on.
`mode_seeking_loss` (Mao et al., 2019) is a generator regulariser against
mode collapse.
"""

from collections.abc import Callable
from typing import Optional

import tensorflow as tf

# Inside the sqrt of the gradient norm: its gradient is infinite at 0.
GRADIENT_NORM_EPSILON = 1e-12
# Mao et al.'s epsilon: the mode-seeking loss is 1 / (ratio + epsilon).
MODE_SEEKING_EPSILON = 1e-5


def critic_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
  """WGAN critic loss E[D(fake)] - E[D(real)] (minimised by the critic)."""
  return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)


def generator_loss(fake_scores: tf.Tensor) -> tf.Tensor:
  """WGAN generator loss -E[D(G(z))]."""
  return -tf.reduce_mean(fake_scores)


def wasserstein_estimate(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
  """E[D(real)] - E[D(fake)]: the critic's estimate of the W1 distance."""
  return tf.reduce_mean(real_scores) - tf.reduce_mean(fake_scores)


def interpolate(real: tf.Tensor, fake: tf.Tensor, alpha: tf.Tensor) -> tf.Tensor:
  """alpha * real + (1 - alpha) * fake, alpha broadcast per sample.

  Args:
    real: (B, ...) real images.
    fake: (B, ...) generated images.
    alpha: (B,) weights in [0, 1].

  Returns:
    (B, ...) interpolated images.
  """
  alpha = tf.reshape(tf.cast(alpha, real.dtype), [-1] + [1] * (real.shape.rank - 1))
  return alpha * real + (1.0 - alpha) * fake


def sample_interpolation_weights(batch_size, dtype=tf.float32, seed=None) -> tf.Tensor:
  """One weight per sample, uniform in [0, 1] (not a normal: a keras.io bug)."""
  return tf.random.uniform([batch_size], 0.0, 1.0, dtype=dtype, seed=seed)


def gradient_penalty(
    critic: Callable[[tf.Tensor], tf.Tensor],
    real: tf.Tensor,
    fake: tf.Tensor,
    *,
    alpha: Optional[tf.Tensor] = None,
    epsilon: float = GRADIENT_NORM_EPSILON,
) -> tf.Tensor:
  """Gulrajani et al.'s penalty E[(||grad D(xhat)||_2 - 1)^2].

  The norm runs over all non-batch axes, with `epsilon` inside the sqrt so the
  penalty stays differentiable where the gradient vanishes.

  Args:
    critic: maps (B, ...) images to (B, 1) or (B,) scores.
    real: (B, ...) real images.
    fake: (B, ...) generated images, same shape.
    alpha: optional (B,) interpolation weights; default U[0, 1] per sample.
    epsilon: added to the squared norm before the sqrt.

  Returns:
    Scalar penalty (without its weight).
  """
  if alpha is None:
    alpha = sample_interpolation_weights(tf.shape(real)[0], real.dtype)
  mixed = interpolate(real, fake, alpha)
  with tf.GradientTape() as tape:
    tape.watch(mixed)
    scores = critic(mixed)
  return penalty_from_gradients(tape.gradient(scores, mixed), epsilon=epsilon)


def penalty_from_gradients(
    grads: tf.Tensor, *, epsilon: float = GRADIENT_NORM_EPSILON
) -> tf.Tensor:
  """E[(||g||_2 - 1)^2] over the batch, the norm over all non-batch axes."""
  axes = list(range(1, grads.shape.rank))
  norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=axes) + epsilon)
  return tf.reduce_mean(tf.square(norms - 1.0))


def pixel_variance(images: tf.Tensor, *, reduce: bool = True) -> tf.Tensor:
  """Each image's variance over all its pixels; batch mean if `reduce`.

  Args:
    images: (B, H, W, C) images.
    reduce: True -> mean over the batch (scalar); False -> (B,) per image.

  Returns:
    Scalar or (B,) population variance.
  """
  axes = list(range(1, images.shape.rank))
  per_sample = tf.math.reduce_variance(images, axis=axes)
  return tf.reduce_mean(per_sample) if reduce else per_sample


def mode_seeking_loss(images_a: tf.Tensor, images_b: tf.Tensor, latents_a: tf.Tensor,
                      latents_b: tf.Tensor, *,
                      epsilon: float = MODE_SEEKING_EPSILON) -> tf.Tensor:
  """Mode-seeking loss of Mao et al. (2019, MSGAN): 1 / (d_I / d_z + epsilon).

  d_I is the mean absolute difference of the paired images G(z_a), G(z_b),
  d_z that of their latents. A generator that maps different latents to the
  same image (mode collapse) has d_I / d_z near 0 and a large loss;
  minimising it spreads the images out.

  Args:
    images_a, images_b: (B, ...) paired generated images.
    latents_a, latents_b: (B, latent_dim) their latents.
    epsilon: added to the ratio (> 0).

  Returns:
    Scalar float32 loss (minimised by the generator).
  """
  image_distance = tf.reduce_mean(tf.abs(
      tf.cast(images_a, tf.float32) - tf.cast(images_b, tf.float32)))
  latent_distance = tf.reduce_mean(tf.abs(
      tf.cast(latents_a, tf.float32) - tf.cast(latents_b, tf.float32)))
  return 1.0 / (image_distance / latent_distance + epsilon)
