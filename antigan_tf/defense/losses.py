"""Losses of Anti-GAN (Luo & Zhu, eqs. 6-9) as pure functions of tensors.

No Keras state here: every function maps tensors to tensors, so each can be
checked against hand-computed values. The WGAN-GP's own losses are in
`antigan_tf.gan.losses`.

Eq. 9 adds to the WGAN-GP generator loss -E[D(G(z))] the term (to *minimise*)
lambda1 * L_sim - s * lambda2 * L_obf with
L_sim = mean over pixels of (G(z) - t)^2, averaged over the batch,
L_obf = log Var(G(z)) (the log of each image's pixel variance, averaged over
the batch) and s = +1 to maximise the variance (eq. 7) or -1 to minimise it
(eq. 8).

Scale. The paper's L_sim is the squared L2 norm, a sum over the H*W*C pixels
(215 to 260 for Fashion-MNIST shirts against their mean): its lambda1 = 0.005
depends on the image size. Here L_sim is the per-pixel mean, so this
library's lambda1 is the paper's times H*W*C (`paper_lambda1`): 0.005 is 3.92
for 28 x 28 x 1 images and 15.36 for 32 x 32 x 3. L_obf is the same in
training and in the projection: each image's own log variance, then the
batch mean.
`anti_gan_terms` combines the two values and is the one place that writes
that sum; `anti_gan_objective` computes them from images first.
"""

import math

import tensorflow as tf

# The modes are the choices of the settings, declared with them.
from antigan_tf.defense.config import TARGET_MODES
from antigan_tf.defense.config import VARIANCE_MODES
from antigan_tf.gan import losses as gan_losses

# Inside the log of the variance: a constant image has variance 0.
VARIANCE_EPSILON = 1e-8


def _check_mode(mode: str, valid, argname: str) -> None:
  if mode not in valid:
    raise ValueError(f'`{argname}` must be one of {valid}, got {mode!r}.')


def paper_lambda1(lambda1: float, image_shape) -> float:
  """The paper's lambda1 (on the pixel sum) for this library's (on the mean)."""
  return float(lambda1) / math.prod(int(d) for d in image_shape)


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
  """L_sim = mean over pixels of (G(z) - t)^2 (the paper's ||G(z) - t||_2^2 / H*W*C).

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
  per_sample = tf.reduce_mean(tf.square(generated - tf.cast(target, generated.dtype)),
                              axis=axes)
  return tf.reduce_mean(per_sample) if reduce else per_sample


def obfuscation_from_variance(
    variance: tf.Tensor, *, epsilon: float = VARIANCE_EPSILON
) -> tf.Tensor:
  """L_obf = log(variance + epsilon), from an already computed pixel variance.

  Args:
    variance: scalar or (B,) from `antigan_tf.gan.losses.pixel_variance`.
    epsilon: keeps the log finite for constant images.

  Returns:
    Tensor of the shape of `variance`.
  """
  return tf.math.log(variance + epsilon)


def obfuscation_loss(
    images: tf.Tensor, *, reduce: bool = True, epsilon: float = VARIANCE_EPSILON
) -> tf.Tensor:
  """L_obf = log(Var(G(z)) + epsilon), each image's own pixel variance.

  Args:
    images: (B, H, W, C) generated images.
    reduce: True -> the batch mean of the images' log variances (scalar,
      training); False -> each image's, (B,) (the projection's objective).
      Both reduce the same way: a batch's L_obf is the mean of its images'.
    epsilon: keeps the log finite for constant images.

  Returns:
    Scalar or (B,) loss.
  """
  per_sample = obfuscation_from_variance(
      gan_losses.pixel_variance(images, reduce=False), epsilon=epsilon)
  return tf.reduce_mean(per_sample) if reduce else per_sample


def variance_sign(variance_mode: str) -> float:
  """+1 for 'max' (eq. 7, sharper images), -1 for 'min' (eq. 8, greyish)."""
  _check_mode(variance_mode, VARIANCE_MODES, 'variance_mode')
  return 1.0 if variance_mode == 'max' else -1.0


def anti_gan_terms(
    similarity: tf.Tensor,
    obfuscation: tf.Tensor,
    *,
    lambda1: float,
    lambda2: float,
    variance_mode: str = 'max',
) -> tf.Tensor:
  """lambda1 * L_sim - s * lambda2 * L_obf from the values of L_sim and L_obf.

  The term eq. 9 adds to the generator loss, written here only: `AntiGAN`
  calls it with the values it also tracks, `anti_gan_objective` with values
  computed from images. A term whose lambda is 0 is not added, so
  lambda1 = lambda2 = 0 gives exactly 0 even where a term is NaN.

  Args:
    similarity: L_sim, scalar or (B,) (from `similarity_loss`).
    obfuscation: L_obf, of the same shape (from `obfuscation_loss`).
    lambda1: weight of L_sim (>= 0).
    lambda2: weight of L_obf (>= 0).
    variance_mode: 'max' or 'min'.

  Returns:
    Tensor of the shape and dtype of `similarity`.

  Raises:
    ValueError: unknown `variance_mode`.
  """
  sign = variance_sign(variance_mode)
  total = tf.zeros_like(similarity)
  if lambda1:
    total += lambda1 * similarity
  if lambda2:
    total -= sign * lambda2 * obfuscation
  return total


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
  """lambda1 * L_sim - s * lambda2 * L_obf of images, see `anti_gan_terms`.

  Terms whose lambda is 0 are not computed, so lambda1 = lambda2 = 0 adds
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

  Raises:
    ValueError: unknown `variance_mode`, or unknown `target_mode` with
      lambda1 > 0.
  """
  variance_sign(variance_mode)  # Validates before any work.
  # A skipped term is a zero of the right shape; `anti_gan_terms` drops it.
  skipped = tf.zeros([] if reduce else [tf.shape(generated)[0]], generated.dtype)
  similarity = skipped
  if lambda1:
    similarity = similarity_loss(
        generated, target, mode=target_mode, pool_size=pool_size, reduce=reduce)
  obfuscation = obfuscation_loss(generated, reduce=reduce) if lambda2 else skipped
  return anti_gan_terms(
      similarity, obfuscation, lambda1=lambda1, lambda2=lambda2, variance_mode=variance_mode)
