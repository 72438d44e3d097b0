"""Keras callbacks that watch a GAN while it trains.

* `ImageGridCallback`: PNG grids of G(z) for one fixed z, every N steps
  (drawn by `antigan_tf.gan.image_grids`).
* `StepCSVLogger`: one CSV row per training step (the paper's Fig. 13 plots
  the generator loss over training).
* `NonFiniteLossGuard`: stops training with `NonFiniteLossError` at the first
  NaN/inf metric.

Scalars for TensorBoard come from Keras's own `tf.keras.callbacks.TensorBoard`
and progress from Keras's progress bar (`fit(verbose=1)`).

Per-step values. Keras reports, after each batch, the running mean of every
metric since the start of the epoch. The step logger and the guard report
the value of *this* step instead: for a `tf.keras.metrics.Mean` tracker of the
model (all of `WGANGP`'s and its subclasses' are), the step's value is
(total - previous total) / (count - previous count), read from the tracker's
own variables; other entries of `logs` are used as they are.

Global step. For a model with a `generator_optimizer` (`WGANGP` and its
subclasses) the step is that optimizer's `iterations`: the
number of generator updates so far, which a restored checkpoint carries on
across `fit` calls. Otherwise it is the model optimizer's `iterations`, and
without a model (callbacks driven by hand) a counter of the batches seen.
Keras's `steps_per_execution` must be 1 (the default) for one call per step.
"""

import csv
import math
import os
from collections.abc import Mapping
from typing import Any, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from antigan_tf.gan import image_grids
from antigan_tf.utils import checks
from antigan_tf.utils import io as io_utils

STEP_KEY = 'step'
EPOCH_KEY = 'epoch'


class NonFiniteLossError(RuntimeError):
  """A training metric became NaN or infinite.

  Attributes:
    step: the global step at which it happened.
    values: every metric of that step, {name: float}.
    bad: the names of the non-finite metrics.
    last_finite: every metric of the last step whose metrics were all finite
      ({} if there was none in this `fit` call).
    last_finite_step: that step, or None.
  """

  def __init__(
      self,
      step: int,
      values: Mapping[str, float],
      bad: list[str],
      last_finite: Mapping[str, float],
      last_finite_step: Optional[int],
  ):
    self.step = step
    self.values = dict(values)
    self.bad = list(bad)
    self.last_finite = dict(last_finite)
    self.last_finite_step = last_finite_step
    offending = ', '.join(f'{k}={values[k]}' for k in bad)
    if last_finite:
      last = ', '.join(f'{k}={v:.6g}' for k, v in last_finite.items())
      previous = f'Last finite values (step {last_finite_step}): {last}.'
    else:
      previous = 'No earlier step in this run had finite values.'
    super().__init__(
        f'Non-finite loss at global step {step}: {offending}. {previous} '
        'Training stopped; lower the learning rates or check the data.'
    )


def _global_step(model) -> Optional[int]:
  """The generator's update count (see the module docstring), or None."""
  if model is None:
    return None
  for name in ('generator_optimizer', 'optimizer'):
    iterations = getattr(getattr(model, name, None), 'iterations', None)
    if iterations is not None:
      return int(iterations.numpy())
  return None


def _to_float(value) -> Optional[float]:
  try:
    array = np.asarray(value)
  except Exception:  # pylint: disable=broad-except
    return None
  if array.size != 1 or not (
      np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
    return None
  return float(array.reshape(()))


class _StepValues:
  """Turns Keras's running epoch means into this step's values."""

  def __init__(self):
    self._previous: dict[str, tuple[float, float]] = {}

  def reset(self) -> None:
    """Call when Keras resets its metrics (at each epoch start)."""
    self._previous = {}

  def __call__(self, model, logs: Optional[Mapping[str, Any]]) -> dict[str, float]:
    values = {}
    for key, value in (logs or {}).items():
      number = _to_float(value)
      if number is not None:
        values[key] = number
    metrics = getattr(model, 'metrics', None) if model is not None else None
    for metric in metrics or ():
      if not isinstance(metric, tf.keras.metrics.Mean) or metric.name not in values:
        continue
      total = float(metric.total.numpy())
      count = float(metric.count.numpy())
      prev_total, prev_count = self._previous.get(metric.name, (0.0, 0.0))
      if count < prev_count:  # Reset without our hook being called.
        prev_total, prev_count = 0.0, 0.0
      if count > prev_count:
        values[metric.name] = (total - prev_total) / (count - prev_count)
      self._previous[metric.name] = (total, count)
    # In the model's order: Keras 3 hands the logs over with sorted keys.
    ordered = [m.name for m in metrics or () if m.name in values]
    return {k: values[k] for k in [*ordered, *(k for k in values if k not in ordered)]}


def _fixed_latents(num_images: int, latent_dim: int, seed: int) -> np.ndarray:
  return np.random.default_rng(seed).standard_normal((num_images, latent_dim)).astype(
      np.float32)


class ImageGridCallback(tf.keras.callbacks.Callback):
  """Saves a PNG grid of G(z) for a fixed z every N steps and at train end.

  The same z (drawn once from `seed`) is used for every grid, so grids from
  different steps, and from resumed runs, are directly comparable. Images
  are generated with `training=False` (BatchNorm in inference mode).

  Files: `output_dir/grid_step_000500.png` (the global step, zero-padded to
  six digits) and `output_dir/grid_final.png`.
  """

  def __init__(
      self,
      output_dir: str,
      *,
      every_n_steps: int = 500,
      num_images: int = 64,
      seed: int = 0,
  ):
    """Configures the callback.

    Args:
      output_dir: directory for the PNG files (created on demand).
      every_n_steps: save when the global step is a multiple of this (>= 1).
      num_images: images per grid (>= 1).
      seed: seed of the fixed latent vectors.

    Raises:
      ValueError: on a non-positive `every_n_steps` or `num_images`.
    """
    super().__init__()
    self.output_dir = os.fspath(output_dir)
    self.every_n_steps = checks.check_int(every_n_steps, 'every_n_steps', 1)
    self.num_images = checks.check_int(num_images, 'num_images', 1)
    self.seed = int(seed)
    self._latents = None
    self._fallback_step = 0
    self.saved_paths: list[str] = []

  def _generator(self):
    return getattr(self.model, 'generator', self.model)

  def latents(self) -> np.ndarray:
    """The fixed (num_images, latent_dim) latent vectors."""
    if self._latents is None:
      latent_dim = int(self._generator().input_shape[-1])
      self._latents = _fixed_latents(self.num_images, latent_dim, self.seed)
    return self._latents

  def save_grid(self, filename: str) -> str:
    """Generates the grid now and writes it to `output_dir/filename`."""
    images = self._generator()(tf.constant(self.latents()), training=False)
    path = image_grids.save_image_grid(
        np.asarray(images), os.path.join(self.output_dir, filename))
    self.saved_paths.append(path)
    return path

  def on_train_begin(self, logs=None):
    step = _global_step(self.model)
    self._fallback_step = 0 if step is None else step

  def on_train_batch_end(self, batch, logs=None):
    step = _global_step(self.model)
    if step is None:
      self._fallback_step += 1
      step = self._fallback_step
    if step % self.every_n_steps == 0:
      self.save_grid(f'grid_step_{step:06d}.png')

  def on_train_end(self, logs=None):
    self.save_grid('grid_final.png')


class StepCSVLogger(tf.keras.callbacks.Callback):
  """Writes one CSV row per training step: step, epoch and every metric.

  Values are per step, not Keras's running epoch means (see the module
  docstring). `epoch` is Keras's 0-based epoch index. The file is flushed
  after every row, so it is complete up to the last step even if training
  dies.

  Resuming: an existing file is appended to. Rows whose step is beyond the
  model's current global step (steps after the checkpoint that was
  restored) are dropped first, so step numbers stay unique and increasing.
  A metric that was not in the existing header extends it (old rows get an
  empty cell).
  """

  def __init__(self, path: str):
    """Configures the logger.

    Args:
      path: the CSV file; its directory is created on demand.
    """
    super().__init__()
    self.path = os.fspath(path)
    self._file = None
    self._writer = None
    self._fieldnames: list[str] = []
    self._step_values = _StepValues()
    self._fallback_step = 0
    self._epoch = 0

  def on_train_begin(self, logs=None):
    self.close()
    fieldnames, rows = io_utils.read_csv_rows(self.path)
    start = _global_step(self.model)
    if start is None:
      start = max((int(r[STEP_KEY]) for r in rows if r.get(STEP_KEY)), default=0)
    kept = [r for r in rows if r.get(STEP_KEY) and int(r[STEP_KEY]) <= start]
    if len(kept) != len(rows):
      logging.info('%s: dropping %d rows after step %d (not in the restored checkpoint).',
                   self.path, len(rows) - len(kept), start)
      self._rewrite(fieldnames, kept)
    self._fieldnames = fieldnames
    self._fallback_step = start
    self._step_values.reset()
    os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
    self._file = open(self.path, 'a', newline='')
    self._writer = (
        csv.DictWriter(self._file, self._fieldnames, restval='') if fieldnames else None)

  def _rewrite(self, fieldnames, rows) -> None:
    tmp = f'{self.path}.tmp'
    with open(tmp, 'w', newline='') as f:
      writer = csv.DictWriter(f, fieldnames, restval='')
      writer.writeheader()
      writer.writerows(rows)
    os.replace(tmp, self.path)

  def on_epoch_begin(self, epoch, logs=None):
    self._epoch = int(epoch)
    self._step_values.reset()

  def on_train_batch_end(self, batch, logs=None):
    if self._file is None:  # Driven without on_train_begin.
      self.on_train_begin()
    values = self._step_values(self.model, logs)
    step = _global_step(self.model)
    if step is None:
      self._fallback_step += 1
      step = self._fallback_step
    row = {STEP_KEY: step, EPOCH_KEY: self._epoch, **values}
    missing = [k for k in row if k not in self._fieldnames]
    if missing:
      self._extend_header(missing)
    self._writer.writerow({k: _format(v) for k, v in row.items()})
    self._file.flush()

  def _extend_header(self, names) -> None:
    old_fields, rows = io_utils.read_csv_rows(self.path)
    self._file.close()
    base = old_fields or [STEP_KEY, EPOCH_KEY]
    self._fieldnames = base + [n for n in names if n not in base]
    self._rewrite(self._fieldnames, rows)
    self._file = open(self.path, 'a', newline='')
    self._writer = csv.DictWriter(self._file, self._fieldnames, restval='')

  def on_epoch_end(self, epoch, logs=None):
    if self._file is not None:
      self._file.flush()

  def on_train_end(self, logs=None):
    self.close()

  def close(self) -> None:
    """Flushes and closes the file (safe to call more than once)."""
    if self._file is not None:
      self._file.close()
    self._file = None
    self._writer = None


def _format(value) -> str:
  if isinstance(value, float):
    return repr(value)
  return str(value)


class NonFiniteLossGuard(tf.keras.callbacks.Callback):
  """Stops training at the first step with a NaN or infinite metric.

  After each batch, every numeric metric of the step (losses, gradient
  penalty, Wasserstein estimate, pixel variance, ...) is checked; the first
  non-finite one raises `NonFiniteLossError` out of `fit`, naming the global
  step, the offending metrics and the last finite values of all metrics.
  Raised from the batch hook, it stops `fit` before any epoch-end callback
  (such as a checkpoint save) sees the broken weights.
  """

  def __init__(self):
    super().__init__()
    self._step_values = _StepValues()
    self._fallback_step = 0
    self.last_finite: dict[str, float] = {}
    self.last_finite_step: Optional[int] = None

  def on_train_begin(self, logs=None):
    step = _global_step(self.model)
    self._fallback_step = 0 if step is None else step
    self._step_values.reset()
    self.last_finite = {}
    self.last_finite_step = None

  def on_epoch_begin(self, epoch, logs=None):
    self._step_values.reset()

  def on_train_batch_end(self, batch, logs=None):
    values = self._step_values(self.model, logs)
    step = _global_step(self.model)
    if step is None:
      self._fallback_step += 1
      step = self._fallback_step
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
      raise NonFiniteLossError(step, values, bad, self.last_finite, self.last_finite_step)
    self.last_finite = values
    self.last_finite_step = step
