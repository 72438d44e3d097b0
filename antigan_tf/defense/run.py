"""Train a `Defender` on the victim's class and export its obfuscated set.

`run_defender` is the library function behind `bin/train_defender`: plain
keyword arguments in, files and a `DefenderRunResult` out. It loads a
dataset's train split, keeps the images of `target_class` (the victim's
private class, 6 in the paper), trains the Anti-GAN defender on them, saves
it, and writes X' (the projected, obfuscated images) for sharing.

Outputs under `output_dir`:
  hparams.csv       every argument of the run (name,value);
  losses.csv        one row per generator step;
  tensorboard/      Keras TensorBoard scalars;
  images/           PNG grids of G(z) for a fixed z;
  checkpoints/      one checkpoint per epoch (a rerun resumes from the last);
  defender/         the trained defender (`Defender.load`);
  obfuscated.npz    X' with keys `x` (float32 images in [-1, 1]) and `y`.
"""

import collections
import os
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional

from absl import logging
import numpy as np

from antigan_tf.data import sources
from antigan_tf.defense import defender as defender_lib
from antigan_tf.utils import devices
from antigan_tf.utils import io

DEFENDER_SUBDIR = 'defender'
OBFUSCATED_FILE = 'obfuscated.npz'
HPARAMS_FILE = 'hparams.csv'
_DEFAULTS = defender_lib.DefenderConfig()


class DefenderRunResult(NamedTuple):
  """What `run_defender` returns.

  Attributes:
    defender: the trained `Defender`.
    history: Keras's per-epoch metrics of the epochs trained by this call.
    final_metrics: the last epoch's metrics ({} if nothing was trained).
    num_images: private images the defender was trained on.
    num_exported: images in obfuscated.npz (with mixing: generated + real).
    output_dir: the run directory.
    defender_dir: where the defender was saved.
    obfuscated_path: the .npz with X'.
  """

  defender: defender_lib.Defender
  history: Mapping[str, list]
  final_metrics: Mapping[str, float]
  num_images: int
  num_exported: int
  output_dir: str
  defender_dir: str
  obfuscated_path: str


def _check_optional_positive_int(value, argname: str) -> Optional[int]:
  if value is None:
    return None
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
    raise ValueError(f'`{argname}` must be a positive integer or None, got {value!r}.')
  return int(value)


def run_defender(
    *,
    output_dir: str,
    dataset: str = 'fashion_mnist',
    data_dir: Optional[str] = None,
    target_class: int = 6,
    max_images: Optional[int] = None,
    epochs: int = _DEFAULTS.epochs,
    lambda1: float = _DEFAULTS.lambda1,
    lambda2: float = _DEFAULTS.lambda2,
    variance_mode: str = _DEFAULTS.variance_mode,
    target_mode: str = _DEFAULTS.target_mode,
    pool_size: int = _DEFAULTS.pool_size,
    latent_dim: int = _DEFAULTS.latent_dim,
    generator_width: int = _DEFAULTS.generator_width,
    critic_width: int = _DEFAULTS.critic_width,
    n_critic: int = _DEFAULTS.n_critic,
    gp_weight: float = _DEFAULTS.gp_weight,
    batch_size: int = _DEFAULTS.batch_size,
    generator_learning_rate: float = _DEFAULTS.generator_learning_rate,
    critic_learning_rate: float = _DEFAULTS.critic_learning_rate,
    adam_beta_1: float = _DEFAULTS.adam_beta_1,
    adam_beta_2: float = _DEFAULTS.adam_beta_2,
    restarts: int = _DEFAULTS.restarts,
    projection_steps: int = _DEFAULTS.projection_steps,
    projection_learning_rate: float = _DEFAULTS.projection_learning_rate,
    projection_batch_size: int = _DEFAULTS.projection_batch_size,
    mix_ratio: float = _DEFAULTS.mix_ratio,
    seed: int = _DEFAULTS.seed,
    image_grid_every_n_steps: int = _DEFAULTS.image_grid_every_n_steps,
    image_grid_num_images: int = _DEFAULTS.image_grid_num_images,
    export_count: Optional[int] = None,
    progress: bool = True,
) -> DefenderRunResult:
  """Trains the defender on one class of a dataset and exports X'.

  Calling it again with the same `output_dir` and settings resumes training
  from the last checkpoint (up to `epochs` in total) and re-exports.

  Args:
    output_dir: run directory (created).
    dataset: 'fashion_mnist', 'mnist', 'cifar10' or 'local' (with
      `data_dir`); see `antigan_tf.data.load_dataset`.
    data_dir: directory to load the dataset from first.
    target_class: the victim's private class; only its train images are used.
    max_images: use only the first N images of that class (quick runs).
    epochs: total training epochs.
    lambda1: see `DefenderConfig` (this and the following arguments up to
      `image_grid_num_images` are its fields).
    lambda2: weight of L_obf.
    variance_mode: 'max' or 'min'.
    target_mode: 'mean', 'per_sample' or 'mean_maxpool'.
    pool_size: max-pool window for 'mean_maxpool'.
    latent_dim: size of z.
    generator_width: base filters of the generator.
    critic_width: base filters of the critic.
    n_critic: critic updates per generator update.
    gp_weight: gradient-penalty weight.
    batch_size: training batch size.
    generator_learning_rate: generator Adam learning rate.
    critic_learning_rate: critic Adam learning rate.
    adam_beta_1: Adam beta_1 of both optimizers.
    adam_beta_2: Adam beta_2 of both optimizers.
    restarts: projection restarts per image.
    projection_steps: projection Adam steps per restart.
    projection_learning_rate: projection Adam step size.
    projection_batch_size: images projected at once.
    mix_ratio: real / generated images in the export.
    seed: seed of everything random.
    image_grid_every_n_steps: PNG grid every N generator steps.
    image_grid_num_images: images per grid.
    export_count: obfuscate and export only the first N training images
      (default: all).
    progress: Keras progress bar and projection progress bar.

  Returns:
    A `DefenderRunResult`.

  Raises:
    ValueError: a bad argument (named in the message), an unknown dataset, a
      class with no images, or an `output_dir` holding a run with other
      settings.
    DatasetNotFoundError: the dataset is not available offline.
    NonFiniteLossError: training diverged (the last good checkpoint is kept).
  """
  hparams = collections.OrderedDict(sorted(locals().items()))
  config = defender_lib.DefenderConfig(
      **{name: hparams[name] for name in defender_lib.config_field_names()})
  max_images = _check_optional_positive_int(max_images, 'max_images')
  export_count = _check_optional_positive_int(export_count, 'export_count')
  if isinstance(target_class, bool) or not isinstance(target_class, (int, np.integer)):
    raise ValueError(f'`target_class` must be an integer, got {target_class!r}.')
  if not output_dir:
    raise ValueError('`output_dir` is required.')

  data = sources.load_dataset(dataset, split='train', data_dir=data_dir)
  if not 0 <= target_class < data.num_classes:
    raise ValueError(
        f'`target_class` must be in [0, {data.num_classes}) for {dataset}, got {target_class}.')
  x = data.x[data.y == target_class]
  if len(x) == 0:
    raise ValueError(f'{dataset} (train) has no images of class {target_class}.')
  if max_images is not None:
    x = x[:max_images]
  if export_count is not None and export_count > len(x):
    raise ValueError(
        f'`export_count` ({export_count}) exceeds the {len(x)} training images of '
        f'class {target_class}.')

  output_dir = os.fspath(output_dir)
  os.makedirs(output_dir, exist_ok=True)
  io.write_hparams_csv(os.path.join(output_dir, HPARAMS_FILE), hparams)

  logging.info('Defender training on %s.', devices.describe())
  defender = defender_lib.Defender(x.shape[1:], config)
  history = defender.fit(x, output_dir=output_dir, verbose=1 if progress else 0)
  defender_dir = defender.save(os.path.join(output_dir, DEFENDER_SUBDIR))

  count = len(x) if export_count is None else export_count
  y = np.full((count,), target_class, np.int32)
  obfuscated_path = defender.export_npz(
      os.path.join(output_dir, OBFUSCATED_FILE), x[:count], y, progress=progress)
  with np.load(obfuscated_path) as exported:
    num_exported = int(exported['y'].shape[0])
  final_metrics: dict[str, Any] = {
      name: float(values[-1]) for name, values in history.history.items() if values}
  return DefenderRunResult(
      defender=defender,
      history=dict(history.history),
      final_metrics=final_metrics,
      num_images=int(len(x)),
      num_exported=num_exported,
      output_dir=output_dir,
      defender_dir=defender_dir,
      obfuscated_path=obfuscated_path,
  )
