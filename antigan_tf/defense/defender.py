"""The `Defender` facade: train Anti-GAN on private images, share X' instead.

The victim of a GAN-based feature-inference attack (Luo & Zhu, sec. 3.2)
trains a WGAN-GP with the Anti-GAN generator loss on its private images X,
projects each x onto the generator's range (R restarts of z, L Adam steps)
and feeds the obfuscated X' (optionally mixed with some real images) to the
federation instead of X. In a TF pipeline:

```python
defender = Defender((28, 28, 1), epochs=20)
defender.fit(x_private, output_dir='runs/defender')   # resumable
x_shared, y_shared = defender.obfuscate(x_private, y_private)
dataset = defender.as_dataset_transform()(private_dataset)
defender.save('runs/defender/model'); Defender.load('runs/defender/model')
```

Training runs Keras's `fit` on `antigan_tf.defense.anti_gan.AntiGAN` (with
lambda1 = lambda2 = 0 it is plain WGAN-GP). With an `output_dir`, `fit`
writes TensorBoard scalars, PNG grids of G(z) for a fixed z, a per-step loss
CSV and a checkpoint per epoch, and continues from the latest checkpoint when
called again with the same directory.
"""

import dataclasses
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from antigan_tf import layout as layout_lib
from antigan_tf.data import images as images_lib
from antigan_tf.defense import mixing
from antigan_tf.defense import projection
from antigan_tf.defense import saved_defender
from antigan_tf.defense.anti_gan import AntiGAN
from antigan_tf.defense.config import TRAINING_FIELDS
from antigan_tf.defense.config import DefenderConfig
from antigan_tf.gan import callbacks as gan_callbacks
from antigan_tf.models import builders
from antigan_tf.utils import checks
from antigan_tf.utils import io as io_utils
from antigan_tf.utils import precision as precision_lib

CHECKPOINTS_TO_KEEP = 3
_FILES = layout_lib.DefenderLayout


def _check_labels(y, num_images: int, name: str = 'y', *,
                  num_classes: Optional[int] = None) -> np.ndarray:
  if isinstance(y, (tf.Tensor, tf.Variable)):
    y = y.numpy()
  array = np.asarray(y)
  if array.ndim == 2 and array.shape[1] == 1:
    array = array[:, 0]
  if array.ndim != 1 or len(array) != num_images:
    raise ValueError(
        f'`{name}` must have shape ({num_images},) (one label per image), got {array.shape}.')
  if not np.issubdtype(array.dtype, np.integer):
    raise ValueError(f'`{name}` must hold integer labels, got dtype {array.dtype}.')
  bad = sorted({int(v) for v in array if v < 0 or (num_classes is not None and v >= num_classes)})
  if bad:
    allowed = 'non-negative' if num_classes is None else f'in [0, {num_classes})'
    raise ValueError(f'`{name}` must hold labels {allowed}, got {bad[:10]}.')
  return array


def _non_finite_keys(logs: Optional[Mapping[str, Any]]) -> list[str]:
  bad = []
  for key, value in (logs or {}).items():
    try:
      if not np.all(np.isfinite(np.asarray(value, np.float64))):
        bad.append(key)
    except (TypeError, ValueError):
      continue
  return bad


class _EpochEnd(tf.keras.callbacks.Callback):
  """Counts completed epochs and saves a checkpoint after each (if managed)."""

  def __init__(self, epoch_variable: tf.Variable, manager, model_step):
    super().__init__()
    self._epoch = epoch_variable
    self._manager = manager
    self._model_step = model_step
    self.saved: list[str] = []

  def on_epoch_end(self, epoch, logs=None):
    bad = _non_finite_keys(logs)
    if bad:  # NonFiniteLossGuard normally stops training before this.
      values = {k: float(np.asarray(v)) for k, v in logs.items()}
      raise gan_callbacks.NonFiniteLossError(self._model_step(), values, bad, {}, None)
    self._epoch.assign(epoch + 1)
    if self._manager is not None:
      self.saved.append(self._manager.save(checkpoint_number=epoch + 1))


class Defender:
  """Trains Anti-GAN on the victim's images and produces the shared set X'.

  Attributes:
    config: the `DefenderConfig`.
    image_shape: (H, W, C) of the images.
    gan: the `AntiGAN` Keras model (with `generator`, `critic`, `rng`).
    generator: the functional generator, z -> image in [-1, 1].
    critic: the functional critic, image -> score.
  """

  def __init__(
      self,
      image_shape: Sequence[int],
      config: Optional[DefenderConfig] = None,
      *,
      precision: str = 'float32',
      **overrides,
  ):
    """Builds the generator, the critic and the `AntiGAN` model.

    Calls `tf.keras.utils.set_random_seed(config.seed)` first (Python, NumPy
    and TF global seeds) so the initial weights are reproducible.

    Args:
      image_shape: (H, W, C); H and W multiples of 4 and >= 8, C in {1, 3}.
      config: hyperparameters; default `DefenderConfig()`.
      precision: 'float32', 'mixed_bfloat16' or 'auto' (`utils.precision`):
        the Keras policy the generator and critic compute in.
      **overrides: fields to replace in `config`, e.g. `epochs=5`.

    Raises:
      TypeError: an override that is not a `DefenderConfig` field, or a
        `config` that is not a `DefenderConfig`.
      ValueError: a bad `image_shape` or field value.
    """
    if config is None:
      config = DefenderConfig()
    if not isinstance(config, DefenderConfig):
      raise TypeError(f'`config` must be a DefenderConfig, got {type(config).__name__}.')
    names = [f.name for f in dataclasses.fields(DefenderConfig)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
      raise TypeError(
          f'Unknown DefenderConfig field(s): {", ".join(unknown)}; valid fields: '
          f'{", ".join(names)}.')
    self.config = dataclasses.replace(config, **overrides) if overrides else config
    try:
      image_shape = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError):
      raise ValueError(
          f'`image_shape` must be (height, width, channels), got {image_shape!r}.') from None
    c = self.config
    tf.keras.utils.set_random_seed(c.seed)
    with precision_lib.policy_scope(precision):
      generator = builders.build_generator(image_shape, c.latent_dim, width=c.generator_width)
      critic = builders.build_critic(image_shape, width=c.critic_width)
    self.image_shape = tuple(int(d) for d in generator.output_shape[1:])
    self.gan = AntiGAN(
        generator,
        critic,
        lambda1=c.lambda1,
        lambda2=c.lambda2,
        variance_mode=c.variance_mode,
        target_mode=c.target_mode,
        pool_size=c.pool_size,
        n_critic=c.n_critic,
        gp_weight=c.gp_weight,
        seed=c.seed,
        name='anti_gan',
    )
    generator_optimizer = tf.keras.optimizers.Adam(
        c.generator_learning_rate, beta_1=c.adam_beta_1, beta_2=c.adam_beta_2)
    critic_optimizer = tf.keras.optimizers.Adam(
        c.critic_learning_rate, beta_1=c.adam_beta_1, beta_2=c.adam_beta_2)
    self.gan.compile(generator_optimizer=generator_optimizer, critic_optimizer=critic_optimizer)
    # Built now, so a checkpoint restores the slots at once (no deferral).
    generator_optimizer.build(generator.trainable_variables)
    critic_optimizer.build(critic.trainable_variables)
    self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name='epoch')
    self._has_sim_target = False
    self.checkpoint = tf.train.Checkpoint(
        generator=generator,
        critic=critic,
        generator_optimizer=generator_optimizer,
        critic_optimizer=critic_optimizer,
        rng=self.gan.rng,
        sim_target=self.gan.target,
        epoch=self._epoch,
    )

  @property
  def generator(self) -> tf.keras.Model:
    return self.gan.generator

  @property
  def critic(self) -> tf.keras.Model:
    return self.gan.critic

  @property
  def epoch(self) -> int:
    """Completed training epochs (restored from checkpoints and `load`)."""
    return int(self._epoch.numpy())

  @property
  def step(self) -> int:
    """Generator updates so far."""
    return int(self.gan.generator_optimizer.iterations.numpy())

  @property
  def sim_target(self) -> Optional[np.ndarray]:
    """The L_sim target (None before `fit`/`load` for the mean modes)."""
    if self.config.target_mode == 'per_sample' or not self._has_sim_target:
      return None
    return self.gan.target.numpy()

  # ---------------------------------------------------------------- training

  def _training_dataset(self, x: np.ndarray, first_epoch: int, last_epoch: int):
    """Batches for epochs [first_epoch, last_epoch), one shuffle per epoch.

    Each epoch's order is a stateless function of (seed, epoch), so a run
    resumed at epoch k sees the same batches as an uninterrupted one.
    """
    images = tf.constant(x)
    num_images = x.shape[0]
    seed = tf.constant(self.config.seed, tf.int64)

    def epoch_batches(epoch):
      keys = tf.random.stateless_uniform([num_images], seed=tf.stack([seed, epoch]))
      return tf.data.Dataset.from_tensor_slices(tf.argsort(keys)).batch(self.config.batch_size)

    dataset = tf.data.Dataset.range(first_epoch, last_epoch).flat_map(epoch_batches)
    return dataset.map(lambda idx: tf.gather(images, idx)).prefetch(1)

  def _check_run_config(self, checkpoint_dir: str) -> None:
    path = os.path.join(checkpoint_dir, _FILES.CHECKPOINT_CONFIG_FILE)
    current = {'image_shape': list(self.image_shape), **self.config.to_dict()}
    if not os.path.exists(path):
      io_utils.write_json_atomic(path, current)
      return
    try:
      with open(path) as f:
        saved = json.load(f)
    except (OSError, ValueError) as e:
      raise ValueError(f'Cannot read {path}: {e}') from None
    differing = [
        name for name in ('image_shape',) + TRAINING_FIELDS
        if saved.get(name) != current[name]
    ]
    if differing:
      details = ', '.join(f'{n}: {saved.get(n)!r} -> {current[n]!r}' for n in differing)
      raise ValueError(
          f'{os.path.dirname(checkpoint_dir)} holds a run with different settings '
          f'({details}); use a new output_dir or the same settings to resume.')

  def restore_checkpoint(self, output_dir: str) -> int:
    """Restores the latest checkpoint of a `fit` output directory.

    Args:
      output_dir: a directory previously passed to `fit`.

    Returns:
      The restored epoch count, or 0 (and no change) if there is no
      checkpoint.

    Raises:
      ValueError: the checkpoint does not match this defender or is corrupt.
    """
    checkpoint_dir = _FILES(output_dir).checkpoint_dir
    latest = tf.train.latest_checkpoint(checkpoint_dir) if os.path.isdir(checkpoint_dir) else None
    if latest is None:
      return 0
    try:
      self.checkpoint.restore(latest).assert_existing_objects_matched()
    except (tf.errors.OpError, ValueError, AssertionError) as e:
      raise ValueError(f'Cannot restore checkpoint {latest}: {e}') from None
    self._has_sim_target = True
    logging.info('Restored %s (epoch %d, step %d).', latest, self.epoch, self.step)
    return self.epoch

  def fit(
      self,
      x,
      *,
      output_dir: Optional[str] = None,
      epochs: Optional[int] = None,
      callbacks: Sequence[tf.keras.callbacks.Callback] = (),
      verbose: int = 1,
  ) -> tf.keras.callbacks.History:
    """Trains the Anti-GAN on the victim's images `x`.

    `epochs` is the total the defender should reach, as Keras's `epochs`
    with `initial_epoch`: training runs from the current epoch count (after
    restoring the latest checkpoint in `output_dir`, if any) up to `epochs`;
    nothing is trained if it is already there. Each epoch's batch order is a
    function of (seed, epoch) and the checkpoint holds every other piece of
    state, so with the same `x` a resumed run is identical to an
    uninterrupted one. The L_sim target is set from `x`. A `NonFiniteLossGuard` always runs: a NaN/inf metric raises
    `NonFiniteLossError` before the epoch's checkpoint is written, so the
    last good checkpoint is kept.

    With `output_dir`, writes:
      tensorboard/           Keras TensorBoard scalars (per epoch);
      images/                grid_step_XXXXXX.png every
                             `config.image_grid_every_n_steps` steps and
                             grid_final.png (fixed z);
      losses.csv             one row per generator step (`StepCSVLogger`);
      checkpoints/           a `tf.train.Checkpoint` per epoch (generator,
                             critic, both optimizers, the model's rng, the
                             L_sim target, the epoch count) and
                             defender_config.json.

    Args:
      x: (N, H, W, C) images in [-1, 1], (H, W, C) = `image_shape`.
      output_dir: run directory for logs and checkpoints (None: none).
      epochs: total epochs to reach (default `config.epochs`).
      callbacks: extra Keras callbacks (run after the built-in ones).
      verbose: Keras verbosity (1 = progress bar, 2 = one line per epoch).

    Returns:
      Keras's `History` of the epochs trained by this call.

    Raises:
      ValueError: bad `x` (shape, empty, non-finite, outside [-1, 1]), bad
        `epochs`, or an `output_dir` holding a run with other settings.
      NonFiniteLossError: a metric became NaN or infinite.
    """
    x = images_lib.check_images(x, 'x', image_shape=self.image_shape)
    epochs = self.config.epochs if epochs is None else checks.check_int(epochs, 'epochs', 1)
    manager = None
    own_callbacks = []
    csv_logger = tensorboard = None
    if output_dir is not None:
      output_dir = os.fspath(output_dir)
      checkpoint_dir = _FILES(output_dir).checkpoint_dir
      os.makedirs(checkpoint_dir, exist_ok=True)
      self._check_run_config(checkpoint_dir)
      self.restore_checkpoint(output_dir)
      manager = tf.train.CheckpointManager(
          self.checkpoint, checkpoint_dir, max_to_keep=CHECKPOINTS_TO_KEEP)
      csv_logger = gan_callbacks.StepCSVLogger(_FILES(output_dir).losses_csv)
      own_callbacks.append(csv_logger)
    self.gan.set_target_images(x)
    self._has_sim_target = True
    own_callbacks.append(gan_callbacks.NonFiniteLossGuard())
    if output_dir is not None:
      own_callbacks.append(gan_callbacks.ImageGridCallback(
          _FILES(output_dir).images_dir,
          every_n_steps=self.config.image_grid_every_n_steps,
          num_images=self.config.image_grid_num_images,
          seed=self.config.seed,
      ))
      tensorboard = tf.keras.callbacks.TensorBoard(
          _FILES(output_dir).tensorboard_dir,
          update_freq='epoch', write_graph=False, profile_batch=0)
      own_callbacks.append(tensorboard)
    own_callbacks.append(_EpochEnd(self._epoch, manager, lambda: self.step))

    initial_epoch = self.epoch
    if epochs <= initial_epoch:
      logging.info('Already trained for %d epochs (asked for %d): nothing to do.',
                   initial_epoch, epochs)
      history = tf.keras.callbacks.History()
      history.set_model(self.gan)
      history.on_train_begin()
      return history
    steps_per_epoch = math.ceil(x.shape[0] / self.config.batch_size)
    dataset = self._training_dataset(x, initial_epoch, epochs)
    try:
      return self.gan.fit(
          dataset,
          epochs=epochs,
          initial_epoch=initial_epoch,
          steps_per_epoch=steps_per_epoch,
          shuffle=False,  # The dataset shuffles itself (Keras 3 warns otherwise).
          callbacks=own_callbacks + list(callbacks),
          verbose=verbose,
      )
    except BaseException:
      # Keras skips on_train_end on an exception: close our files here.
      if tensorboard is not None:
        tensorboard._close_writers()  # pylint: disable=protected-access
      raise
    finally:
      if csv_logger is not None:
        csv_logger.close()

  # ------------------------------------------------------------- obfuscation

  def obfuscate(
      self,
      x,
      y,
      *,
      mix_ratio: Optional[float] = None,
      progress: bool = True,
      num_classes: Optional[int] = None,
  ) -> tuple[np.ndarray, np.ndarray]:
    """Projects `x` onto the generator's range and optionally mixes in reals.

    Runs `projection.project` with the config's lambda1 and projection_lambda2,
    modes, latent prior, restarts,
    steps and seed (the L_sim target learned in `fit`/`load` for the mean
    modes), so x'_i = G(z_i*) keeps x_i's label. With a mix ratio > 0 and
    `config.mix_mode`:
    - 'replace': `mixing.replace_split` picks N / (1 + MR) images to project
      and shares the others real (N images in all);
    - 'add': all N are projected and `mixing.mix_real` adds round(MR * N) of
      the real images (N (1 + MR) in all).
    Either way the result is shuffled; with MR = 0 the order of `x` is kept.

    Args:
      x: (N, H, W, C) images in [-1, 1].
      y: (N,) integer labels.
      mix_ratio: MR = #real / #generated; default `config.mix_ratio`.
      progress: show a progress bar over the projection chunks.
      num_classes: the dataset's number of classes: labels outside [0,
        num_classes) are refused (negative labels always are).

    Returns:
      (x_prime float32 (M, H, W, C), y_prime (M,) with `y`'s dtype), M = N
      without mixing or with 'replace'.

    Raises:
      ValueError: bad `x`, `y` or `mix_ratio`.
      RuntimeError: the defender is not trained (neither `fit` nor `load`):
        its generator would draw noise.
    """
    return self._obfuscate(
        x, y, mix_ratio=mix_ratio, progress=progress,
        batch_size=self.config.projection_batch_size, num_classes=num_classes)

  def _obfuscate(self, x, y, *, mix_ratio, progress, batch_size, num_classes=None):
    if self.epoch == 0:
      raise RuntimeError('The defender is not trained: call fit(x) or Defender.load(directory) '
                         'before obfuscating (an untrained generator draws noise).')
    x = images_lib.check_images(x, 'x', image_shape=self.image_shape)
    y = _check_labels(y, x.shape[0], num_classes=num_classes)
    c = self.config
    # The same check as the `mix_ratio` setting's (mixing checks the count).
    mix_ratio = c.mix_ratio if mix_ratio is None else checks.check_non_negative_float(
        mix_ratio, 'mix_ratio')
    if mix_ratio == 0:
      return self._project(x, y, progress, batch_size)
    if c.mix_mode == 'replace':
      projected, real = mixing.replace_split(len(x), mix_ratio=float(mix_ratio), seed=c.seed)
      # All of the others, shared real: MR becomes their count over the projected.
      x_prime, y_prime = self._project(x[projected], y[projected], progress, batch_size)
      x, y, mix_ratio = x[real], y[real], len(real) / len(projected)
    else:
      x_prime, y_prime = self._project(x, y, progress, batch_size)
    return mixing.mix_real(x_prime, y_prime, x, y, mix_ratio=float(mix_ratio), seed=c.seed)

  def _project(self, x, y, progress, batch_size):
    """x'_i = G(z_i*) for each x_i, with x_i's label."""
    c = self.config
    result = projection.project(
        self.generator,
        x,
        lambda1=c.lambda1,
        lambda2=c.effective_projection_lambda2,
        variance_mode=c.variance_mode,
        target_mode=c.target_mode,
        target=self.sim_target,
        pool_size=c.pool_size,
        restarts=c.restarts,
        steps=c.projection_steps,
        learning_rate=c.projection_learning_rate,
        latent_weight=c.projection_latent_weight,
        batch_size=batch_size,
        seed=c.seed,
        progress=progress,
    )
    return result.images, y.copy()

  def as_dataset_transform(
      self,
      *,
      batch_size: int = 256,
      mix_ratio: Optional[float] = None,
      progress: bool = False,
  ) -> Callable[[tf.data.Dataset], tf.data.Dataset]:
    """A `tf.data` transformation that replaces X by the obfuscated X'.

    Eager only: the returned function reads the whole dataset into memory,
    obfuscates it with `obfuscate`, and returns
    `tf.data.Dataset.from_tensor_slices((x_prime, y_prime))`. Use it as
    `dataset.apply(defender.as_dataset_transform())`.

    Args:
      batch_size: images projected at once (replaces
        `config.projection_batch_size` for this transform).
      mix_ratio: as in `obfuscate`.
      progress: show a progress bar over the projection chunks.

    Returns:
      A function mapping a dataset of (image, label) elements, unbatched
      ((H, W, C), ()) or batched ((B, H, W, C), (B,)), to a dataset of
      unbatched (image float32, label) elements.

    Raises:
      ValueError: `batch_size` is not a positive integer. The function raises
        ValueError on a dataset whose elements are not (image, label) pairs
        of the defender's image shape, and RuntimeError outside eager mode.
    """
    batch_size = checks.check_int(batch_size, 'batch_size', 1)

    def transform(dataset: tf.data.Dataset) -> tf.data.Dataset:
      if not tf.executing_eagerly():
        raise RuntimeError('as_dataset_transform() needs eager execution (it reads the data).')
      spec = dataset.element_spec
      if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(
            f'The dataset must yield (image, label) pairs, got element_spec {spec}.')
      rank = spec[0].shape.rank
      if rank not in (len(self.image_shape), len(self.image_shape) + 1):
        raise ValueError(
            f'Dataset images must have shape {self.image_shape} (or batches of it), '
            f'got {spec[0].shape}.')
      if rank == len(self.image_shape) + 1:
        dataset = dataset.unbatch()
      xs, ys = [], []
      for image, label in dataset.as_numpy_iterator():
        xs.append(image)
        ys.append(label)
      if not xs:
        raise ValueError('The dataset is empty: there is nothing to obfuscate.')
      x = np.stack(xs)
      y = np.asarray(ys, dtype=spec[1].dtype.as_numpy_dtype)
      x_prime, y_prime = self._obfuscate(
          x, y, mix_ratio=mix_ratio, progress=progress, batch_size=int(batch_size))
      return tf.data.Dataset.from_tensor_slices((x_prime, y_prime))

    return transform

  # ------------------------------------------------------------------ export

  def export_npz(self, path: str, x, y, **obfuscate_kwargs) -> str:
    """Obfuscates (x, y) and writes X' as an .npz with keys `x` and `y`.

    Written to a temporary file in the same directory and renamed, so `path`
    is either absent or complete.

    Args:
      path: the .npz file to write (its directory is created).
      x: (N, H, W, C) images in [-1, 1].
      y: (N,) integer labels.
      **obfuscate_kwargs: passed to `obfuscate` (`mix_ratio`, `progress`).

    Returns:
      `path`.

    Raises:
      ValueError: as `obfuscate`.
    """
    x_prime, y_prime = self.obfuscate(x, y, **obfuscate_kwargs)
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    io_utils.savez_atomic(path, x=x_prime, y=y_prime)
    return path

  # --------------------------------------------------------------- save/load

  def save(self, directory: str) -> str:
    """Saves the trained defender for inference (see `saved_defender.save`).

    Returns:
      `directory`.
    """
    return saved_defender.save(self, directory)

  @classmethod
  def load(cls, directory: str) -> 'Defender':
    """Loads a defender written by `save` (see `saved_defender.load`).

    Raises:
      FileNotFoundError: `directory` or one of its files is missing (named).
      ValueError: a file is corrupt or does not match the saved config.
    """
    return saved_defender.load(cls, directory)
