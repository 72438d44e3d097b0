"""The paper's stronger attacker: a WGAN-GP with black-box access to the data.

Luo & Zhu (sec. 4) note that the GAN of Hitaj et al., trained against the
global model, mostly produces useless images, and evaluate Anti-GAN against
a more powerful attacker instead: one that can feed whatever the victim
contributes to the federation into the discriminator of its own GAN. With
the defense on, that is the obfuscated X' (the projections onto the Anti-GAN
generator, possibly mixed with real images); without it, the private X. The
attacker trains a WGAN-GP on those images, and its generated images
("reconstructions") are what is judged: the defense works if they do not
show the victim's visual features.

`train_black_box_attacker` is that attacker in one call:

```python
result = train_black_box_attacker(x_shared, steps=2000)
save_image_grid(result.reconstructions, 'attacker.png')
```
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from antigan_tf.attack import _common
from antigan_tf.data import images as images_lib
from antigan_tf.gan.callbacks import NonFiniteLossGuard
from antigan_tf.gan.wgan_gp import WGANGP
from antigan_tf.models import builders
from antigan_tf.models import seeding
from antigan_tf.utils import checks
from antigan_tf.utils import keras_compat
from antigan_tf.utils import precision as precision_lib

# Stateless random stream of the fixed reconstruction latents.
_RECONSTRUCTION_STREAM = 3
# `seeded_initialize` streams of the two networks.
_GENERATOR_INIT_STREAM = 0
_CRITIC_INIT_STREAM = 1


class BlackBoxResult(NamedTuple):
  """What `train_black_box_attacker` returns.

  Attributes:
    generator: the trained functional Keras generator, (B, latent_dim) latents
      to (B, H, W, C) images in [-1, 1].
    reconstructions: float32 (num_reconstructions, H, W, C) in [-1, 1]: the
      generator (inference mode) on fixed latents derived from the seed.
    history: per-generator-step values of 'critic_loss', 'generator_loss',
      'gradient_penalty' and 'wasserstein' (the critic's values are those of
      the step's last critic update), each a list of `steps` floats.
  """
  generator: tf.keras.Model
  reconstructions: np.ndarray
  history: dict[str, list[float]]


class _StepHistory(tf.keras.callbacks.Callback):
  """Records each step's value of the model's `Mean` trackers.

  Keras logs running means since the epoch start; a tracker's total and
  count give this step's value exactly.
  """

  def __init__(self):
    super().__init__()
    self.history: dict[str, list[float]] = {}
    self._previous: dict[str, tuple[float, float]] = {}

  def on_epoch_begin(self, epoch, logs=None):
    self._previous = {}  # Keras resets the trackers at each epoch.

  def on_train_batch_end(self, batch, logs=None):
    for metric in self.model.metrics:
      if not isinstance(metric, tf.keras.metrics.Mean):
        continue
      total, count = float(metric.total.numpy()), float(metric.count.numpy())
      prev_total, prev_count = self._previous.get(metric.name, (0.0, 0.0))
      if count > prev_count:
        self.history.setdefault(metric.name, []).append(
            (total - prev_total) / (count - prev_count))
      self._previous[metric.name] = (total, count)


def train_black_box_attacker(
    images,
    *,
    steps: int,
    batch_size: int = 64,
    n_critic: int = 5,
    gp_weight: float = 10.0,
    latent_dim: int = 100,
    width: int = 64,
    learning_rate: float = 1e-4,
    beta_1: float = 0.0,
    beta_2: float = 0.9,
    seed: int = 0,
    num_reconstructions: int = 64,
    precision: str = 'float32',
    progress: bool = False,
) -> BlackBoxResult:
  """Trains a WGAN-GP on the images the victim shares and samples it.

  DCGAN generator and critic from `antigan_tf.models` (weights initialised
  from `seed`), `antigan_tf.gan.WGANGP` with Adam(learning_rate,
  beta_1, beta_2) for both networks (Gulrajani et al.: 1e-4, 0, 0.9), trained with
  Keras `fit` for `steps` generator updates (each after `n_critic` critic
  updates) on full batches of the images, reshuffled each pass. Training
  stops with `NonFiniteLossError` at the first NaN/inf loss.

  Args:
    images: what the victim feeds into the federation, (N, H, W, C) in
      [-1, 1] (X' with the defense, X without); H, W multiples of 4, C in
      {1, 3}. Values up to 1e-3 outside [-1, 1] are clipped.
    steps: generator updates (>= 1).
    batch_size: images per batch (>= 1); N may be smaller (images repeat).
    n_critic: critic updates per generator update (>= 1).
    gp_weight: gradient-penalty weight (>= 0).
    latent_dim: size of z (>= 1).
    width: base filters of the generator and of the critic (>= 1).
    learning_rate: Adam step size of both networks (> 0).
    beta_1: Adam beta_1 of both networks, in [0, 1).
    beta_2: Adam beta_2 of both networks, in [0, 1).
    seed: integer >= 0; weights, data order, training randomness and the
      reconstruction latents derive from it.
    num_reconstructions: images in `reconstructions` (>= 1).
    precision: 'float32', 'mixed_bfloat16' or 'auto' (`utils.precision`):
      the Keras policy the generator and critic compute in.
    progress: show Keras's progress bar.

  Returns:
    A `BlackBoxResult`.

  Raises:
    ValueError: empty, non-4-D, non-finite or out-of-range images, or a bad
      argument (the message names it).
    antigan_tf.gan.NonFiniteLossError: training diverged.
  """
  steps = checks.check_int(steps, 'steps', 1)
  batch_size = checks.check_int(batch_size, 'batch_size', 1)
  n_critic = checks.check_int(n_critic, 'n_critic', 1)
  gp_weight = checks.check_non_negative_float(gp_weight, 'gp_weight')
  latent_dim = checks.check_int(latent_dim, 'latent_dim', 1)
  width = checks.check_int(width, 'width', 1)
  learning_rate = checks.check_positive_float(learning_rate, 'learning_rate')
  beta_1 = checks.check_adam_beta(beta_1, 'beta_1')
  beta_2 = checks.check_adam_beta(beta_2, 'beta_2')
  seed = checks.check_int(seed, 'seed', 0)
  num_reconstructions = checks.check_int(num_reconstructions, 'num_reconstructions', 1)
  images = images_lib.check_images(images, 'images')
  image_shape = images.shape[1:]
  # Validates the image shape (ValueError naming `image_shape`).
  with precision_lib.policy_scope(precision):
    generator = builders.build_generator(
        image_shape, latent_dim, width=width, name='black_box_generator')
    critic = builders.build_critic(image_shape, width=width, name='black_box_critic')
  seeding.seeded_initialize(generator, seed, _GENERATOR_INIT_STREAM)
  seeding.seeded_initialize(critic, seed, _CRITIC_INIT_STREAM)

  gan = WGANGP(generator, critic, n_critic=n_critic, gp_weight=gp_weight, seed=seed)
  gan.compile(
      generator_optimizer=keras_compat.adam(learning_rate, beta_1=beta_1, beta_2=beta_2),
      critic_optimizer=keras_compat.adam(learning_rate, beta_1=beta_1, beta_2=beta_2),
  )
  # Repeat before batching: every batch is full, even for N < batch_size.
  dataset = (
      tf.data.Dataset.from_tensor_slices(images)
      .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
      .repeat()
      .batch(batch_size, drop_remainder=True)
      .prefetch(tf.data.AUTOTUNE)
  )
  recorder = _StepHistory()
  gan.fit(
      dataset,
      epochs=1,
      steps_per_epoch=steps,
      shuffle=False,  # The dataset shuffles itself (Keras 3 warns otherwise).
      verbose=1 if progress else 0,
      callbacks=[NonFiniteLossGuard(), recorder],
  )

  key = _common.derive_seed(_common.base_seed(seed), _RECONSTRUCTION_STREAM)
  z = tf.random.stateless_normal([num_reconstructions, latent_dim], seed=key)
  reconstructions = np.concatenate([
      generator(z[start:start + 256], training=False).numpy()
      for start in range(0, num_reconstructions, 256)
  ]).astype(np.float32, copy=False)
  return BlackBoxResult(generator, reconstructions, dict(recorder.history))
