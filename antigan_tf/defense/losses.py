"""Losses of the WGAN-GP and of Anti-GAN as pure functions of tensors.

No Keras state here: every function maps tensors to tensors, so each can be
checked against hand-computed values and reused in any training loop.

Sign conventions (all are quantities to *minimise*):

* critic:    E[D(G(z))] - E[D(x)]                  (Arjovsky et al., eq. 4)
* generator: -E[D(G(z))]
* gradient penalty: E[(||grad_xhat D(xhat)||_2 - 1)^2], xhat = a x + (1-a) G(z),
  a ~ U[0, 1] per sample (Gulrajani et al., 2017)
* Anti-GAN (Luo & Zhu, eqs. 6-9): lambda1 * L_sim - s * lambda2 * L_obf with
  L_sim = ||G(z) - t||_2^2 (summed over pixels, averaged over the batch),
  L_obf = log Var(G(z)) (each image's pixel variance, averaged over the batch)
  and s = +1 to maximise the variance (eq. 7) or -1 to minimise it (eq. 8).
"""

from collections.abc import Callable
from typing import Optional

import tensorflow as tf

TARGET_MODES = ('per_sample', 'mean', 'mean_maxpool')
VARIANCE_MODES = ('max', 'min')
# Inside the sqrt of the gradient norm (its gradient is infinite at 0) and
# inside the log of the variance (a constant image has variance 0).
GRADIENT_NORM_EPSILON = 1e-12
VARIANCE_EPSILON = 1e-8


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


def _check_mode(mode: str, valid, argname: str) -> None:
  if mode not in valid:
    raise ValueError(f'`{argname}` must be one of {valid}, got {mode!r}.')


def max_pool(images: tf.Tensor, pool_size: int = 2) -> tf.Tensor:
  """Non-overlapping max pooling, (B, H, W, C) -> (B, H/p, W/p, C)."""
  return tf.nn.max_pool2d(images, pool_size, pool_size, 'VALID')


def similarity_target(
    real: tf.Tensor, *, mode: str = 'per_sample', pool_size: int = 2
) -> tf.Tensor:
  """The target t of L_sim built from the victim's real images.

  Args:
    real: (N, H, W, C) real images.
    mode: 'per_sample' -> the images themselves; 'mean' -> their pixel-wise
      mean (1, H, W, C), the paper's experiments; 'mean_maxpool' -> the mean of
      max-pooled images (1, H/p, W/p, C), the paper's translation-invariant
      variant (the generated image is max-pooled too, see `similarity_loss`).
    pool_size: pooling window and stride for 'mean_maxpool'.

  Returns:
    The target tensor.

  Raises:
    ValueError: unknown `mode`.
  """
  _check_mode(mode, TARGET_MODES, 'target_mode')
  real = tf.convert_to_tensor(real)
  if mode == 'per_sample':
    return real
  if mode == 'mean':
    return tf.reduce_mean(real, axis=0, keepdims=True)
  return tf.reduce_mean(max_pool(real, pool_size), axis=0, keepdims=True)


def similarity_loss(
    generated: tf.Tensor,
    target: tf.Tensor,
    *,
    mode: str = 'per_sample',
    pool_size: int = 2,
    reduce: bool = True,
) -> tf.Tensor:
  """L_sim = ||G(z) - t||_2^2, summed over pixels.

  Args:
    generated: (B, H, W, C) generated images.
    target: from `similarity_target` with the same `mode` (broadcastable).
    mode: as in `similarity_target`; 'mean_maxpool' max-pools `generated`.
    pool_size: pooling for 'mean_maxpool'.
    reduce: True -> mean over the batch (scalar); False -> (B,) per sample.

  Returns:
    Scalar or (B,) loss.
  """
  _check_mode(mode, TARGET_MODES, 'target_mode')
  if mode == 'mean_maxpool':
    generated = max_pool(generated, pool_size)
  axes = list(range(1, generated.shape.rank))
  per_sample = tf.reduce_sum(tf.square(generated - tf.cast(target, generated.dtype)), axis=axes)
  return tf.reduce_mean(per_sample) if reduce else per_sample


def pixel_variance(images: tf.Tensor, *, reduce: bool = True) -> tf.Tensor:
  """Each image's variance over all its pixels; batch mean if `reduce`."""
  axes = list(range(1, images.shape.rank))
  per_sample = tf.math.reduce_variance(images, axis=axes)
  return tf.reduce_mean(per_sample) if reduce else per_sample


def obfuscation_loss(
    images: tf.Tensor, *, reduce: bool = True, epsilon: float = VARIANCE_EPSILON
) -> tf.Tensor:
  """L_obf = log(Var(G(z)) + epsilon).

  Args:
    images: (B, H, W, C) generated images.
    reduce: True -> log of the batch-mean pixel variance (scalar); False ->
      log of each image's variance, (B,), used to rank projection restarts.
    epsilon: keeps the log finite for constant images.

  Returns:
    Scalar or (B,) loss.
  """
  return tf.math.log(pixel_variance(images, reduce=reduce) + epsilon)


def variance_sign(variance_mode: str) -> float:
  """+1 for 'max' (eq. 7, sharper images), -1 for 'min' (eq. 8, greyish)."""
  _check_mode(variance_mode, VARIANCE_MODES, 'variance_mode')
  return 1.0 if variance_mode == 'max' else -1.0


def anti_gan_objective(
    generated: tf.Tensor,
    target: tf.Tensor,
    *,
    lambda1: float,
    lambda2: float,
    variance_mode: str = 'max',
    target_mode: str = 'per_sample',
    pool_size: int = 2,
    reduce: bool = True,
) -> tf.Tensor:
  """lambda1 * L_sim - s * lambda2 * L_obf, the term eq. 9 adds to G's loss.

  Terms whose lambda is 0 are skipped entirely, so lambda1 = lambda2 = 0 adds
  exactly 0 (plain WGAN-GP), even for images that would make a term NaN.

  Args:
    generated: (B, H, W, C) generated images.
    target: from `similarity_target(..., mode=target_mode)`.
    lambda1: weight of L_sim (>= 0).
    lambda2: weight of L_obf (>= 0).
    variance_mode: 'max' or 'min'.
    target_mode: see `similarity_target`.
    pool_size: pooling for 'mean_maxpool'.
    reduce: scalar (True) or per-sample (False) value.

  Returns:
    Scalar or (B,) objective.
  """
  sign = variance_sign(variance_mode)
  batch = tf.shape(generated)[0]
  total = tf.zeros([] if reduce else [batch], generated.dtype)
  if lambda1:
    total += lambda1 * similarity_loss(
        generated, target, mode=target_mode, pool_size=pool_size, reduce=reduce
    )
  if lambda2:
    total -= sign * lambda2 * obfuscation_loss(generated, reduce=reduce)
  return total
