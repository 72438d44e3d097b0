"""WGAN-GP and Anti-GAN as subclassed Keras models with a custom `train_step`.

`model.fit(images)` trains them, so Keras progress bars, TensorBoard, early
stopping and checkpoint callbacks work unchanged. `compile()` takes the two
optimizers; the losses come from `antigan_tf.defense.losses`.

Each `train_step` runs `n_critic` critic updates and one generator update
inside the one function Keras compiles. The fakes of all critic updates come
from one batched generator call, and the critic scores real and fake images
in one forward pass. Random numbers come from a seeded `tf.random.Generator` owned by
the model, so runs are reproducible and independent of graph layout.
"""

from typing import Optional

import numpy as np
import tensorflow as tf

from antigan_tf.defense import losses
from antigan_tf.utils import checks


class WGANGP(tf.keras.Model):
  """Wasserstein GAN with gradient penalty (Gulrajani et al., 2017)."""

  def __init__(
      self,
      generator: tf.keras.Model,
      critic: tf.keras.Model,
      *,
      n_critic: int = 5,
      gp_weight: float = 10.0,
      seed: int = 0,
      **kwargs,
  ):
    """Wraps a generator and a critic.

    Args:
      generator: maps (B, latent_dim) to (B, H, W, C) images in [-1, 1].
      critic: maps (B, H, W, C) images to (B, 1) scores; no BatchNorm.
      n_critic: critic updates per generator update (>= 1).
      gp_weight: weight of the gradient penalty (>= 0; 10 in the paper).
      seed: seed of the model's latent / interpolation random numbers.
      **kwargs: passed to `tf.keras.Model` (e.g. `name`).

    Raises:
      ValueError: bad `n_critic` or `gp_weight`, or a generator whose output
        shape is not the critic's input shape.
    """
    super().__init__(**kwargs)
    if isinstance(n_critic, bool) or not isinstance(n_critic, (int, np.integer)) or n_critic < 1:
      raise ValueError(f'`n_critic` must be an integer >= 1, got {n_critic!r}.')
    self.gp_weight = checks.check_non_negative_float(gp_weight, 'gp_weight')
    self.n_critic = int(n_critic)
    self.generator = generator
    self.critic = critic
    self.latent_dim = int(generator.input_shape[-1])
    self.image_shape = tuple(generator.output_shape[1:])
    if tuple(critic.input_shape[1:]) != self.image_shape:
      raise ValueError(
          f'Generator output shape {self.image_shape} does not match critic '
          f'input shape {tuple(critic.input_shape[1:])}.'
      )
    self.seed = int(seed)
    self.rng = tf.random.Generator.from_seed(self.seed)
    self.critic_loss_tracker = tf.keras.metrics.Mean(name='critic_loss')
    self.generator_loss_tracker = tf.keras.metrics.Mean(name='generator_loss')
    self.gradient_penalty_tracker = tf.keras.metrics.Mean(name='gradient_penalty')
    self.wasserstein_tracker = tf.keras.metrics.Mean(name='wasserstein')

  def compile(
      self,
      *,
      generator_optimizer: tf.keras.optimizers.Optimizer,
      critic_optimizer: tf.keras.optimizers.Optimizer,
      **kwargs,
  ):
    """Sets the two optimizers; other kwargs go to `tf.keras.Model.compile`.

    The WGAN-GP paper uses Adam(1e-4, beta_1=0.0, beta_2=0.9) for both.
    """
    super().compile(**kwargs)
    self.generator_optimizer = generator_optimizer
    self.critic_optimizer = critic_optimizer

  @property
  def metrics(self):
    # Listed here so Keras resets them at each epoch.
    return [
        self.critic_loss_tracker,
        self.generator_loss_tracker,
        self.gradient_penalty_tracker,
        self.wasserstein_tracker,
    ]

  def call(self, z, training=False):
    """G(z): the generated images."""
    return self.generator(z, training=training)

  def sample_latent(self, batch_size) -> tf.Tensor:
    """z ~ N(0, I) from the model's seeded generator."""
    return self.rng.normal([batch_size, self.latent_dim])

  def generate(self, num_images: int, *, batch_size: int = 256) -> np.ndarray:
    """G(z) for `num_images` fresh latents (inference mode), as numpy."""
    out = []
    for start in range(0, num_images, batch_size):
      n = min(batch_size, num_images - start)
      out.append(self.generator(self.sample_latent(n), training=False).numpy())
    return np.concatenate(out) if out else np.zeros((0, *self.image_shape), np.float32)

  def _critic_step(self, real: tf.Tensor, fake: tf.Tensor, batch_size: tf.Tensor):
    alpha = self.rng.uniform([batch_size], 0.0, 1.0)  # U[0, 1], per sample.
    mixed = losses.interpolate(real, fake, alpha)
    with tf.GradientTape() as tape:
      # Real and fake in one forward pass (first-order terms only).
      scores = self.critic(tf.concat([real, fake], axis=0), training=True)
      real_scores, fake_scores = tf.split(scores, 2, axis=0)
      # The interpolates get their own pass: only they need second-order
      # gradients, and folding them into the batch above would double-
      # backpropagate through real and fake too.
      with tf.GradientTape() as gp_tape:
        gp_tape.watch(mixed)
        mixed_scores = self.critic(mixed, training=True)
      penalty = losses.penalty_from_gradients(gp_tape.gradient(mixed_scores, mixed))
      c_loss = losses.critic_loss(real_scores, fake_scores)
      total = c_loss + self.gp_weight * penalty
    variables = self.critic.trainable_variables
    self.critic_optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
    return c_loss, penalty, losses.wasserstein_estimate(real_scores, fake_scores)

  def generator_extra_loss(self, fake: tf.Tensor, real: tf.Tensor):
    """Hook for subclasses: (extra generator loss, {tracker: value}).

    The base WGAN-GP adds nothing.
    """
    del fake, real
    return None, {}

  def _generator_step(self, real: tf.Tensor, batch_size: tf.Tensor):
    z = self.sample_latent(batch_size)
    with tf.GradientTape() as tape:
      fake = self.generator(z, training=True)
      g_loss = losses.generator_loss(self.critic(fake, training=True))
      extra, extra_metrics = self.generator_extra_loss(fake, real)
      total = g_loss if extra is None else g_loss + extra
    variables = self.generator.trainable_variables
    self.generator_optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
    return total, extra_metrics

  def train_step(self, data):
    real = data[0] if isinstance(data, (tuple, list)) else data
    real = tf.cast(real, self.compute_dtype)
    batch_size = tf.shape(real)[0]  # Dynamic: the last batch may be smaller.
    # The generator is frozen during the critic updates, so the fakes of all
    # n_critic updates come from one batched generator call (the costliest
    # network here); only BatchNorm's batch statistics span n_critic batches.
    fakes = self.generator(self.sample_latent(batch_size * self.n_critic), training=True)
    fakes = tf.reshape(fakes, [self.n_critic, batch_size, *self.image_shape])
    for i in range(self.n_critic):  # Unrolled: all in one compiled step.
      c_loss, penalty, w_estimate = self._critic_step(real, fakes[i], batch_size)
    g_total, extra_metrics = self._generator_step(real, batch_size)
    self.critic_loss_tracker.update_state(c_loss)
    self.gradient_penalty_tracker.update_state(penalty)
    self.wasserstein_tracker.update_state(w_estimate)
    self.generator_loss_tracker.update_state(g_total)
    for tracker, value in extra_metrics.items():
      tracker.update_state(value)
    return {m.name: m.result() for m in self.metrics}

  def get_config(self):
    return {
        'n_critic': self.n_critic,
        'gp_weight': self.gp_weight,
        'seed': self.seed,
    }


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
      lambda1: float = 0.005,
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
      lambda1: weight of L_sim (>= 0). The paper's Fig. 6 uses 0.005.
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
    # A variable, so checkpoints carry the target with the weights.
    self.target = tf.Variable(tf.zeros(target_shape), trainable=False, name='sim_target')
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
    variance = losses.pixel_variance(fake)
    obf = tf.math.log(variance + losses.VARIANCE_EPSILON)
    metrics = {
        self.similarity_tracker: tf.stop_gradient(sim),
        self.obfuscation_tracker: tf.stop_gradient(obf),
        self.variance_tracker: tf.stop_gradient(variance),
    }
    if not (self.lambda1 or self.lambda2):
      return None, metrics  # Exactly the WGAN-GP generator loss.
    # Zero-weight terms are left out, as in `losses.anti_gan_objective`.
    extra = tf.zeros([], fake.dtype)
    if self.lambda1:
      extra += self.lambda1 * sim
    if self.lambda2:
      extra -= losses.variance_sign(self.variance_mode) * self.lambda2 * obf
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
