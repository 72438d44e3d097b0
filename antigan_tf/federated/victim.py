"""The victim's preprocessing hook: what the victim feeds into the federation.

A hook is any `(x, y) -> (x', y')` callable on numpy arrays. It runs once,
before round 1 and outside TFF computations (so the Anti-GAN training can use
an accelerator), and its output is cached on disk: reruns and resumed runs
reuse it instead of retraining. `anti_gan_transform` is the paper's defense;
`baseline_transform` the simple ones it is compared with;
`dataset_transform_hook` adapts any `tf.data` transformation.
"""

import json
import os
from collections.abc import Callable, Sequence
from typing import Optional

import numpy as np
import tensorflow as tf

from antigan_tf import layout as layout_lib
from antigan_tf.defense import baselines as baselines_lib
from antigan_tf.defense import defender as defender_lib
from antigan_tf.utils import io as io_utils
from antigan_tf.utils import precision as precision_lib
from antigan_tf.utils.fingerprint import array_fingerprint

VictimTransform = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def anti_gan_transform(
    config: defender_lib.DefenderConfig,
    *,
    protected_classes: Sequence[int],
    work_dir: Optional[str] = None,
    precision: str = 'float32',
    progress: bool = True,
) -> VictimTransform:
  """The Anti-GAN hook: each protected class is replaced by its obfuscated X'.

  One `Defender` is trained per protected class (the generator is
  unconditional, as in the paper) on the victim's images of that class, and
  those images are replaced by `Defender.obfuscate` (projection, then mixing
  at `config.mix_ratio`). Images of other classes pass through unchanged.

  Args:
    config: the defenders' hyperparameters.
    protected_classes: classes to obfuscate (the target class, at least).
    work_dir: where each defender keeps checkpoints, logs and image grids
      (`class_<c>/`); training resumes from them. None keeps nothing.
    precision: the defenders' Keras policy (`utils.precision`).
    progress: Keras and projection progress bars.

  Returns:
    A `VictimTransform`.
  """
  protected = tuple(int(c) for c in protected_classes)
  if not protected:
    raise ValueError('`protected_classes` must name at least one class.')

  def transform(x: np.ndarray, y: np.ndarray):
    xs, ys = [], []
    keep = ~np.isin(y, protected)
    xs.append(x[keep])
    ys.append(y[keep])
    for c in protected:
      x_c = x[y == c]
      if len(x_c) == 0:
        raise ValueError(f'The victim holds no image of protected class {c}.')
      defender = defender_lib.Defender(x.shape[1:], config, precision=precision)
      class_dir = None if work_dir is None else layout_lib.defender_class_dir(work_dir, c)
      defender.fit(x_c, output_dir=class_dir, verbose=1 if progress else 0)
      if class_dir is not None:
        defender.save(layout_lib.DefenderLayout(class_dir).saved_in_run_dir)
      x_prime, y_prime = defender.obfuscate(x_c, y[y == c], progress=progress)
      xs.append(x_prime)
      ys.append(y_prime)
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(y.dtype)

  transform.cache_description = json.dumps(
      {'anti_gan': config.to_dict(), 'protected_classes': protected,
       'precision': precision_lib.resolve(precision)}, sort_keys=True)
  return transform


def baseline_transform(name: str, *, protected_classes: Sequence[int], strength=None,
                       seed: int = 0) -> VictimTransform:
  """A baseline defense (`antigan_tf.defense.baselines`) as a victim hook.

  Args:
    name: one of `baselines.BASELINES`.
    protected_classes: the classes it transforms (or, 'drop_class', drops).
    strength: its strength (sigma, std or block size; None for drop_class).
    seed: seed of the noise.

  Returns:
    A `VictimTransform` (with 'drop_class' it may return no image at all).
  """
  protected = tuple(int(c) for c in protected_classes)

  def transform(x: np.ndarray, y: np.ndarray):
    return baselines_lib.apply_baseline(name, x, y, protected_classes=protected,
                                        strength=strength, seed=seed)

  transform.cache_description = json.dumps(
      {'baseline': name, 'strength': strength, 'protected_classes': protected, 'seed': seed},
      sort_keys=True)
  return transform


def dataset_transform_hook(
    dataset_transform: Callable[[tf.data.Dataset], tf.data.Dataset],
) -> VictimTransform:
  """Adapts a `tf.data` transformation (e.g. `Defender.as_dataset_transform()`).

  The transformation receives a dataset of unbatched (image, label) pairs and
  must return one too.
  """

  def transform(x: np.ndarray, y: np.ndarray):
    out = tf.data.Dataset.from_tensor_slices((x, y)).apply(dataset_transform)
    xs, ys = [], []
    for image, label in out.as_numpy_iterator():
      xs.append(image)
      ys.append(label)
    if not xs:
      raise ValueError('The victim transform returned an empty dataset.')
    return np.stack(xs).astype(np.float32), np.asarray(ys).astype(y.dtype)

  transform.cache_description = f'dataset_transform:{describe(dataset_transform)}'
  return transform


def describe(fn) -> str:
  """How a hook is named in caches and hparams: `cache_description` or its qualified name."""
  return getattr(fn, 'cache_description', None) or (
      f'{getattr(fn, "__module__", "?")}.{getattr(fn, "__qualname__", repr(fn))}')


def cache_key(transform: VictimTransform, x: np.ndarray, y: np.ndarray) -> str:
  """Fingerprint of (the victim's data, the transform's description)."""
  return array_fingerprint(x, y, note=describe(transform))


def apply_cached(
    transform: VictimTransform,
    x: np.ndarray,
    y: np.ndarray,
    *,
    cache_path: Optional[str] = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
  """Runs `transform` on (x, y), or reads its cached result.

  The cache is an .npz with `x`, `y` and the `cache_key`; it is used only when
  the key matches (same data, same transform description), and written
  atomically. A custom callable is described by its module and qualified name
  (or its `cache_description` attribute): change either, or delete the file,
  after changing what it does.

  Returns:
    (x', y', whether the cache was used).

  Raises:
    ValueError: the transform returned something that is not an (images,
      labels) pair of the victim's image shape in [-1, 1]. It may return no
      image (a victim that shares nothing, e.g. `drop_class`): the victim
      then stays a client with no data.
  """
  key = cache_key(transform, x, y)
  # An unreadable or stale cache is recomputed and overwritten.
  cached = None if cache_path is None else io_utils.load_keyed_npz(cache_path, key)
  if cached is not None:
    return cached['x'], cached['y'], True
  x_out, y_out = transform(x, y)
  x_out = np.asarray(x_out, np.float32)
  y_out = np.asarray(y_out)
  if x_out.ndim != x.ndim or x_out.shape[1:] != x.shape[1:]:
    raise ValueError(
        f'The victim transform must return images of shape (N, {x.shape[1:]}), '
        f'got {x_out.shape}.')
  if y_out.shape != (len(x_out),) or not np.issubdtype(y_out.dtype, np.integer):
    raise ValueError(
        f'The victim transform must return {len(x_out)} integer labels, got '
        f'{y_out.dtype} {y_out.shape}.')
  if not np.all(np.isfinite(x_out)) or np.abs(x_out).max(initial=0.0) > 1.0 + 1e-3:
    raise ValueError('The victim transform must return finite images in [-1, 1].')
  y_out = y_out.astype(np.int32)
  if cache_path is not None:
    os.makedirs(os.path.dirname(os.path.abspath(cache_path)), exist_ok=True)
    io_utils.savez_atomic(cache_path, x=x_out, y=y_out, key=np.array(key))
  return x_out, y_out, False
