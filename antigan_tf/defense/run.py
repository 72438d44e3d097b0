"""Train a `Defender` on the victim's class and export its obfuscated set.

`run_defender(config)` is the library function behind `bin/train_defender`:
a `DefenderRunConfig` in, files and a `DefenderRunResult` out. It loads a
dataset's train split, keeps the images of `target_class` (the victim's
private class, 6 in the paper), trains the Anti-GAN defender on them, saves
it, and writes X' (the projected, obfuscated images) for sharing. The files
are listed in `antigan_tf.layout.DefenderLayout`.
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

from absl import logging
import numpy as np

from antigan_tf import layout as layout_lib
from antigan_tf.data import sources
from antigan_tf.defense import config as config_lib
from antigan_tf.defense import defender as defender_lib
from antigan_tf.utils import devices
from antigan_tf.utils import io
from antigan_tf.utils import precision as precision_lib
from antigan_tf.utils import locks


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


def _private_images(config: config_lib.DefenderRunConfig) -> np.ndarray:
  """The target class's train images; checks what needs the data, before any write."""
  data = sources.load_dataset(config.dataset, split='train', data_dir=config.data_dir,
                              num_classes=config.num_classes)
  if not config.target_class < data.num_classes:
    raise ValueError(
        f'--target_class must be in [0, {data.num_classes}) for {config.dataset}, got '
        f'{config.target_class}.')
  x = data.x[data.y == config.target_class]
  if len(x) == 0:
    raise ValueError(f'{config.dataset} (train) has no images of class {config.target_class}.')
  if config.max_images is not None:
    x = x[:config.max_images]
  count = len(x) if config.export_count is None else config.export_count
  if count > len(x):
    raise ValueError(f'--export_count ({count}) exceeds the {len(x)} training images of '
                     f'class {config.target_class}.')
  max_ratio = config_lib.max_mix_ratio(len(x), count)
  if config.defender.mix_mode == 'add' and config.defender.mix_ratio > max_ratio:
    raise ValueError(f'--mix_ratio ({config.defender.mix_ratio:g}) asks for more real images '
                     f'than the {len(x)} there are (at most {max_ratio:.6g} for {count} '
                     'exported images).')
  return x


def run_defender(config: config_lib.DefenderRunConfig) -> DefenderRunResult:
  """Trains the defender on one class of a dataset and exports X'.

  Calling it again with the same `output_dir` and settings resumes training
  from the last checkpoint (up to `epochs` in total) and re-exports.

  Args:
    config: every setting (checked when it was built; `DefenderRunConfig.
      from_flat` takes flag-named values).

  Returns:
    A `DefenderRunResult`.

  Raises:
    ValueError: a class the dataset does not have or has no images of, an
      export or a mix ratio larger than the images allow, an `output_dir`
      that is a file, holds a run with other settings or that another
      process is running in (`locks.DirectoryInUseError`). All before any
      output.
    DatasetNotFoundError: the dataset is not available offline.
    NonFiniteLossError: training diverged (the last good checkpoint is kept).
  """
  x = _private_images(config)
  layout = layout_lib.DefenderLayout(config.output_dir)
  io.make_private_dir(layout.root)
  with locks.exclusive_lock(layout.lock_file, what=f'Defender directory {layout.root!r}'):
    return _train_and_export(config, x, layout)


def _train_and_export(config: config_lib.DefenderRunConfig, x: np.ndarray,
                      layout: layout_lib.DefenderLayout) -> DefenderRunResult:
  """`run_defender` once its directory is locked."""
  io.write_hparams_csv(layout.hparams_csv, config.to_flat())

  logging.info('Defender training on %s in %s.', devices.describe(),
               precision_lib.resolve(config.precision))
  defender = defender_lib.Defender(x.shape[1:], config.defender, precision=config.precision)
  history = defender.fit(x, output_dir=layout.root, verbose=1 if config.progress else 0)
  defender_dir = defender.save(layout.saved_defender_dir)

  count = len(x) if config.export_count is None else config.export_count
  y = np.full((count,), config.target_class, np.int32)
  obfuscated_path = defender.export_npz(
      layout.obfuscated_npz, x[:count], y, progress=config.progress)
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
      output_dir=layout.root,
      defender_dir=defender_dir,
      obfuscated_path=obfuscated_path,
  )
