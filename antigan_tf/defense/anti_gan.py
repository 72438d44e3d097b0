"""Anti-GAN: the victim's WGAN-GP with the extra generator terms of eq. 9.

`AntiGAN` subclasses `antigan_tf.gan.WGANGP` (same `compile` / `fit`) and
adds, through its `generator_extra_loss` hook, lambda1 * L_sim -
s * lambda2 * L_obf as computed by `antigan_tf.defense.losses.anti_gan_terms`.
"""

from typing import Optional

import numpy as np
import tensorflow as tf

from antigan_tf.defense import losses
from antigan_tf.gan import losses as gan_losses
from antigan_tf.gan.wgan_gp import WGANGP
from antigan_tf.utils import checks


class AntiGAN(WGANGP):
  """WGAN-GP whose generator also minimises lambda1 L_sim - s lambda2 L_obf.

  Eq. 9 of Luo & Zhu: the generator keeps the victim's classification
  features (L_sim pulls G(z) towards the target t) while its visual features
  are obfuscated (L_obf pushes the pixel variance up for 'max', down for
  'min'). With lambda1 = lambda2 = 0 it is exactly `WGANGP`.
  """

  def __init__(
      self,
      generator: tf.keras.Model,
      critic: tf.keras.Model,
      *,
      lambda1: float = 3.92,
      lambda2: float = 48.0,
      variance_mode: str = 'max',
      target_mode: str = 'mean',
      target_images: Optional[np.ndarray] = None,
      pool_size: int = 2,
      **kwargs,
  ):
    """Adds the Anti-GAN terms to a `WGANGP`.

    Args:
      generator: as for `WGANGP`.
      critic: as for `WGANGP`.
      lambda1: weight of L_sim, the per-pixel mean (>= 0); the paper's Fig. 6
        uses 0.005 on the pixel sum, 3.92 here for 28 x 28 images.
      lambda2: weight of L_obf (>= 0). The paper's Fig. 6 uses 48.
      variance_mode: 'max' (eq. 7, default) or 'min' (eq. 8).
      target_mode: 'per_sample' (each generated image against a real image of
        the batch), 'mean' (the pixel-wise mean of the victim's images, as in
        the paper's experiments) or 'mean_maxpool'.
      target_images: the victim's images, needed for 'mean'/'mean_maxpool'
        (can also be set later with `set_target_images`).
      pool_size: max-pool window for 'mean_maxpool'.
      **kwargs: passed to `WGANGP` (`n_critic`, `gp_weight`, `seed`, `name`).

    Raises:
      ValueError: negative or non-finite lambdas, unknown modes.
    """
    super().__init__(generator, critic, **kwargs)
    self.lambda1 = checks.check_non_negative_float(lambda1, 'lambda1')
    self.lambda2 = checks.check_non_negative_float(lambda2, 'lambda2')
    losses.variance_sign(variance_mode)  # Validates.
    if target_mode not in losses.TARGET_MODES:
      raise ValueError(
          f'`target_mode` must be one of {losses.TARGET_MODES}, got {target_mode!r}.'
      )
    self.variance_mode = variance_mode
    self.target_mode = target_mode
    self.pool_size = int(pool_size)
    target_shape = (1, *self.image_shape)
    if target_mode == 'mean_maxpool':
      h, w, c = self.image_shape
      target_shape = (1, h // self.pool_size, w // self.pool_size, c)
    # A weight of the model (Keras 2 and 3 track it), so checkpoints carry the
    # target with the other weights.
    self.target = self.add_weight(name='sim_target', shape=target_shape, initializer='zeros',
                                  trainable=False)
    self.has_target = target_mode == 'per_sample'
    if target_images is not None:
      self.set_target_images(target_images)
    self.similarity_tracker = tf.keras.metrics.Mean(name='similarity_loss')
    self.obfuscation_tracker = tf.keras.metrics.Mean(name='obfuscation_loss')
    self.variance_tracker = tf.keras.metrics.Mean(name='pixel_variance')

  def set_target_images(self, images) -> None:
    """Computes the L_sim target from the victim's real images."""
    images = tf.convert_to_tensor(images, tf.float32)
    if tuple(images.shape[1:]) != self.image_shape:
      raise ValueError(
          f'`target_images` must have shape (N, {", ".join(map(str, self.image_shape))}), '
          f'got {tuple(images.shape)}.'
      )
    if self.target_mode != 'per_sample':
      self.target.assign(
          losses.similarity_target(images, mode=self.target_mode, pool_size=self.pool_size)
      )
    self.has_target = True

  @property
  def metrics(self):
    return super().metrics + [
        self.similarity_tracker, self.obfuscation_tracker, self.variance_tracker
    ]

  def train_step(self, data):
    if not self.has_target:
      raise ValueError(
          f"target_mode={self.target_mode!r} needs the victim's images: pass "
          '`target_images=` or call `set_target_images(x)` before fit().'
      )
    return super().train_step(data)

  def _target_for(self, real: tf.Tensor) -> tf.Tensor:
    return real if self.target_mode == 'per_sample' else self.target

  def generator_extra_loss(self, fake, real):
    # L_sim and the variance are computed once and serve both the loss and
    # the trackers (monitored whatever the lambdas).
    sim = losses.similarity_loss(
        fake, self._target_for(real), mode=self.target_mode, pool_size=self.pool_size)
    per_image = gan_losses.pixel_variance(fake, reduce=False)
    variance = tf.reduce_mean(per_image)
    # As `losses.obfuscation_loss` and the projection: each image's log variance.
    obf = tf.reduce_mean(losses.obfuscation_from_variance(per_image))
    metrics = {
        self.similarity_tracker: tf.stop_gradient(sim),
        self.obfuscation_tracker: tf.stop_gradient(obf),
        self.variance_tracker: tf.stop_gradient(variance),
    }
    if not (self.lambda1 or self.lambda2):
      return None, metrics  # Exactly the WGAN-GP generator loss.
    extra = losses.anti_gan_terms(
        sim, obf, lambda1=self.lambda1, lambda2=self.lambda2, variance_mode=self.variance_mode)
    return extra, metrics

  def get_config(self):
    config = super().get_config()
    config.update(
        lambda1=self.lambda1,
        lambda2=self.lambda2,
        variance_mode=self.variance_mode,
        target_mode=self.target_mode,
        pool_size=self.pool_size,
    )
    return config
