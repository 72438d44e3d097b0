"""A saved `Defender`: the files `Defender.save` writes and `Defender.load` reads.

For inference, not training: the generator and the critic (`.keras`), the
L_sim target and the metadata (`antigan_tf.layout.DefenderLayout`). Training
state lives in `fit`'s checkpoints.
"""

import json
import os

import numpy as np
import tensorflow as tf

from antigan_tf import layout as layout_lib
from antigan_tf.defense.config import DefenderConfig
from antigan_tf.utils import io as io_utils

SAVE_FORMAT_VERSION = 1
# The first bytes of a zip file, which a `.keras` file is.
KERAS_ZIP_MAGIC = b'PK\x03\x04'
GENERATOR_FILE = layout_lib.DefenderLayout.GENERATOR_FILE
CRITIC_FILE = layout_lib.DefenderLayout.CRITIC_FILE
SIM_TARGET_FILE = layout_lib.DefenderLayout.SIM_TARGET_FILE
METADATA_FILE = layout_lib.DefenderLayout.METADATA_FILE


def save(defender, directory: str) -> str:
  """Saves the trained defender for inference (not the training state).

  Writes `generator.keras` and `critic.keras` (the functional Keras models,
  loadable with `tf.keras.models.load_model` on their own),
  `sim_target.npy` and `defender.json` (image shape, config, epoch count;
  written last). Optimizer states are not saved: use `fit`'s checkpoints to
  continue training.

  Args:
    defender: the trained `Defender`.
    directory: created if needed; existing files are overwritten.

  Returns:
    `directory`.
  """
  directory = os.fspath(directory)
  os.makedirs(directory, exist_ok=True)
  for model, filename in ((defender.generator, GENERATOR_FILE), (defender.critic, CRITIC_FILE)):
    tmp = os.path.join(directory, f'.tmp-{filename}')  # Keras needs the .keras suffix.
    model.save(tmp)
    os.replace(tmp, os.path.join(directory, filename))
  tmp = os.path.join(directory, f'.tmp-{SIM_TARGET_FILE}')
  np.save(tmp, defender.gan.target.numpy())
  os.replace(tmp, os.path.join(directory, SIM_TARGET_FILE))
  io_utils.write_json_atomic(os.path.join(directory, METADATA_FILE), {
      'format_version': SAVE_FORMAT_VERSION,
      'image_shape': list(defender.image_shape),
      'config': defender.config.to_dict(),
      'epoch': defender.epoch,
      'has_sim_target': defender._has_sim_target,  # pylint: disable=protected-access
  })
  return directory


def _load_weights_only(model: tf.keras.Model, path: str, architecture: str) -> None:
  """Reads the weights of the `.keras` file `path` into `model`, built by the
  project's builders: nothing in the file is deserialised as code.

  `tf.keras.models.load_model` would run a `Lambda` layer's Python (Keras's
  legacy HDF5 loader is used whatever the file's name says, and `safe_mode`
  does not apply to it); `load_weights` on a `.keras` zip reads its weights
  store only.

  Raises:
    ValueError: `path` is not a `.keras` zip, or its weights do not fit `model`.
  """
  with open(path, 'rb') as f:
    magic = f.read(len(KERAS_ZIP_MAGIC))
  if magic != KERAS_ZIP_MAGIC:
    raise ValueError(f'{path} is not a readable Keras model: not a .keras (zip) file; a saved '
                     'Defender holds .keras files only (README, "Security").')
  try:
    model.load_weights(path)
  except Exception as e:  # pylint: disable=broad-except
    # Keras raises many types (zipfile.BadZipFile, KeyError, ValueError...).
    raise ValueError(f'{path} does not match {architecture}: {e}') from None


def load(defender_cls, directory: str):
  """Loads a defender written by `save`.

  Args:
    defender_cls: `Defender` (passed in: this module is below it).
    directory: a directory written by `Defender.save`.

  Returns:
    A `Defender` with the saved weights, config, L_sim target and epoch
    count (its optimizers are fresh).

  Raises:
    FileNotFoundError: `directory` or one of its files is missing (named).
    ValueError: a file is corrupt or does not match the saved config.
  """
  directory = os.fspath(directory)
  meta_path = os.path.join(directory, METADATA_FILE)
  if not os.path.isdir(directory):
    raise FileNotFoundError(f'No saved Defender at {directory!r}: no such directory.')
  for filename in (METADATA_FILE, GENERATOR_FILE, CRITIC_FILE, SIM_TARGET_FILE):
    if not os.path.exists(os.path.join(directory, filename)):
      raise FileNotFoundError(
          f'{directory!r} is not a complete saved Defender: {filename} is missing.')
  try:
    with open(meta_path) as f:
      meta = json.load(f)
    version = meta['format_version']
    image_shape = tuple(int(d) for d in meta['image_shape'])
    config = DefenderConfig.from_dict(meta['config'])
    epoch = int(meta['epoch'])
    has_sim_target = bool(meta.get('has_sim_target', True))
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise ValueError(f'{meta_path} is corrupt: {e!r}') from None
  if version != SAVE_FORMAT_VERSION:
    raise ValueError(
        f'{meta_path} has format_version {version!r}; this library reads '
        f'{SAVE_FORMAT_VERSION}.')
  defender = defender_cls(image_shape, config)
  for model, filename in ((defender.generator, GENERATOR_FILE), (defender.critic, CRITIC_FILE)):
    _load_weights_only(model, os.path.join(directory, filename),
                       f'the architecture in {METADATA_FILE} (image_shape {image_shape}, '
                       f'config {config})')
  target_path = os.path.join(directory, SIM_TARGET_FILE)
  try:
    target = np.load(target_path, allow_pickle=False)
  except (OSError, ValueError) as e:
    raise ValueError(f'{target_path} is corrupt: {e!r}') from None
  if tuple(target.shape) != tuple(defender.gan.target.shape):
    raise ValueError(
        f'{target_path} has shape {target.shape}, expected '
        f'{tuple(defender.gan.target.shape)}.')
  defender.gan.target.assign(target.astype(np.float32))
  defender._has_sim_target = has_sim_target  # pylint: disable=protected-access
  defender._epoch.assign(epoch)  # pylint: disable=protected-access
  return defender
