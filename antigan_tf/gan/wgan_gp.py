"""WGAN-GP as a subclassed Keras model with a custom `train_step`.

`model.fit(images)` trains it, so Keras progress bars, TensorBoard, early
stopping and checkpoint callbacks work unchanged. `compile()` takes the two
optimizers; the losses come from `antigan_tf.gan.losses`. Subclasses add
terms to the generator's loss through `generator_extra_loss` (the Anti-GAN
defense does).

Each `train_step` runs `n_critic` critic updates and one generator update
inside the one function Keras compiles. The fakes of all critic updates come
from one batched generator call, and the critic scores real and fake images
in one forward pass. Random numbers come from a seeded `tf.random.Generator` owned by
the model, so runs are reproducible and independent of graph layout.
"""

import numpy as np
import tensorflow as tf

from antigan_tf.gan import losses
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
    self.gp_weight = checks.check_non_negative_float(gp_weight, 'gp_weight')
    self.n_critic = checks.check_int(n_critic, 'n_critic', 1)
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
    """Hook for subclasses: a term added to the generator loss -E[D(G(z))].

    The base WGAN-GP adds nothing.

    Args:
      fake: (B, H, W, C) images of this generator update (on the tape).
      real: (B, H, W, C) the real images of the batch.

    Returns:
      (extra loss or None for none, {metric tracker: value to record}).
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
    # float32, like the generator's output layer, under any policy.
    real = tf.cast(real, tf.float32)
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
