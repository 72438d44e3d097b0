"""The leakage oracle: a classifier trained centrally on a dataset's real data.

The paper judged reconstructions by eye. The oracle turns "does this look like
class c?" into numbers: how often it labels the attacker's reconstructions as
the victim's class, how sure it is, and (through its penultimate-layer
features) how far their distribution is from the real images of that class.
It is trained once per dataset on the full real training split, with the
shared classifier's architecture (`models.builders.build_classifier`), and
cached on disk:

    <cache_dir>/oracle_<dataset>.keras   the Keras model (Keras v3 format)
    <cache_dir>/oracle_<dataset>.json    sidecar: what it was trained on

`load_or_train_oracle` reuses the cache only when the sidecar matches the
request exactly (dataset, image shape, classes, epochs, seed, example cap,
architecture and a fingerprint of the training arrays), and refuses with a
ValueError otherwise, rather than silently retraining over someone's cache.
"""

import contextlib
import fcntl
import json
import os
import re
import time
from typing import Any, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from antigan_tf.data import sources
from antigan_tf.metrics import _validation
from antigan_tf.models import builders
from antigan_tf.models import seeding
from antigan_tf.utils import checks
from antigan_tf.utils import io as io_utils
from antigan_tf.utils import fingerprint

FORMAT_VERSION = 1
DEFAULT_EPOCHS = 2
DEFAULT_BATCH_SIZE = 128
DEFAULT_WIDTH = 32
DENSE_UNITS = 128  # `build_classifier`'s default hidden layer: the feature size.
LEARNING_RATE = 1e-3
PREDICT_BATCH_SIZE = 1000
# Sidecar keys that must match for a cached oracle to be reused.
IDENTITY_KEYS = ('format_version', 'dataset', 'image_shape', 'num_classes', 'epochs', 'seed',
                 'max_train_examples', 'num_train_examples', 'data_fingerprint', 'width',
                 'dense_units', 'batch_size', 'learning_rate')
_DATASET_NAME = re.compile(r'[A-Za-z0-9_.-]+')


class Oracle:
  """A trained classifier used to score reconstructions.

  Attributes:
    model: the Keras model mapping (B, H, W, C) images in [-1, 1] to logits.
    metadata: the sidecar dict (what the model was trained on); {} if none.
    path: the cached model file, or None.
    loaded_from_cache: True if `load_or_train_oracle` read the model from
      disk, False if it trained it in this call.
  """

  def __init__(
      self,
      model: tf.keras.Model,
      *,
      metadata: Optional[dict[str, Any]] = None,
      path: Optional[str] = None,
      loaded_from_cache: bool = False,
  ):
    """Wraps a classifier.

    Args:
      model: functional Keras model, (B, H, W, C) -> (B, K) logits. The
        features are the input of its layer named 'logits' (as built by
        `build_classifier`), else the output of its second-to-last layer.
      metadata: sidecar information, stored as given.
      path: where the model is cached, if it is.
      loaded_from_cache: see the class docstring.

    Raises:
      ValueError: `model` is not a Keras model with one (H, W, C) image input
        and one (K,) output.
    """
    if not isinstance(model, tf.keras.Model):
      raise ValueError(f'`model` must be a tf.keras.Model, got {type(model).__name__}.')
    input_shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else ()
    output_shape = tuple(model.output_shape) if not isinstance(model.output_shape, list) else ()
    if len(input_shape) != 4 or None in input_shape[1:] or len(output_shape) != 2:
      raise ValueError('`model` must map (batch, H, W, C) images to (batch, num_classes) '
                       f'logits, got input {model.input_shape} and output {model.output_shape}.')
    self.model = model
    self.metadata = dict(metadata or {})
    self.path = path
    self.loaded_from_cache = loaded_from_cache
    self.image_shape = tuple(int(d) for d in input_shape[1:])
    self.num_classes = int(output_shape[1])
    try:
      feature_tensor = model.get_layer('logits').input
    except ValueError:
      feature_tensor = model.layers[-2].output
    self._feature_model = tf.keras.Model(model.inputs, feature_tensor, name='oracle_features')
    self.feature_dim = int(self._feature_model.output_shape[-1])

  def _run(self, model: tf.keras.Model, x, argname: str, batch_size: int) -> np.ndarray:
    images = _validation.check_images(x, argname, image_shape=self.image_shape)
    batch_size = checks.check_int(batch_size, 'batch_size', 1)
    outputs = [model(tf.constant(images[i:i + batch_size]), training=False).numpy()
               for i in range(0, len(images), batch_size)]
    return np.concatenate(outputs).astype(np.float64)

  def predict_logits(self, x, *, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """(N, num_classes) float64 logits of (N, H, W, C) images in [-1, 1]."""
    return self._run(self.model, x, 'x', batch_size)

  def predict_proba(self, x, *, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """(N, num_classes) float64 softmax probabilities (rows sum to 1).

    Raises:
      ValueError: invalid images or another image shape than the oracle's.
    """
    logits = self.predict_logits(x, batch_size=batch_size)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    return probs / probs.sum(axis=1, keepdims=True)

  def predict_labels(self, x, *, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """(N,) int64 argmax labels."""
    return np.argmax(self.predict_logits(x, batch_size=batch_size), axis=1)

  def features(self, x, *, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """(N, feature_dim) float64 penultimate-layer activations (after ReLU).

    These are the activations of the hidden dense layer feeding the logits;
    `leakage.leakage_report` computes its Fréchet distance on them.

    Raises:
      ValueError: invalid images or another image shape than the oracle's.
    """
    return self._run(self._feature_model, x, 'x', batch_size)


def train_oracle(
    x,
    y,
    *,
    num_classes: int,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    width: int = DEFAULT_WIDTH,
    progress: bool = False,
) -> tf.keras.Model:
  """Trains a `build_classifier` CNN centrally on real data.

  Weights come from `seeded_initialize(model, seed)` and the shuffling from a
  seeded `tf.data` shuffle, so the global random state is neither used nor
  changed. Adam (learning rate 1e-3), sparse categorical cross-entropy on
  logits.

  Args:
    x: (N, H, W, C) images in [-1, 1], H and W multiples of 4.
    y: (N,) integer labels in [0, num_classes).
    num_classes: number of classes.
    epochs: passes over the data.
    batch_size: examples per step.
    seed: integer >= 0 for initialisation and shuffling.
    width: filters of the first conv layer (see `build_classifier`).
    progress: print one Keras log line per epoch.

  Returns:
    The trained functional Keras model (images -> logits), compiled.

  Raises:
    ValueError: invalid images or labels, different lengths, or a bad number.
  """
  num_classes = checks.check_int(num_classes, 'num_classes', 1)
  images = _validation.check_images(x, 'x')
  labels = _validation.check_labels(y, 'y', num_classes=num_classes)
  if len(labels) != len(images):
    raise ValueError(f'`y` has {len(labels)} labels for {len(images)} images in `x`.')
  epochs = checks.check_int(epochs, 'epochs', 1)
  batch_size = checks.check_int(batch_size, 'batch_size', 1)
  seed = checks.check_int(seed, 'seed', 0)
  width = checks.check_int(width, 'width', 1)
  model = builders.build_classifier(images.shape[1:], num_classes, width=width,
                                    dense_units=DENSE_UNITS, name='oracle')
  seeding.seeded_initialize(model, seed)
  model.compile(
      optimizer=tf.keras.optimizers.Adam(LEARNING_RATE),
      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=['accuracy'],
  )
  data = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
  data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
  model.fit(data.batch(batch_size), epochs=epochs, verbose=2 if progress else 0)
  return model


def cache_paths(cache_dir: str, dataset: str) -> tuple[str, str]:
  """(model file, JSON sidecar) of the oracle of `dataset` under `cache_dir`."""
  base = os.path.join(os.fspath(cache_dir), f'oracle_{dataset}')
  return base + '.keras', base + '.json'


def _check_dataset_name(dataset) -> str:
  if not isinstance(dataset, str) or not _DATASET_NAME.fullmatch(dataset):
    raise ValueError(f'`dataset` must be a dataset name such as {sources.DATASET_NAMES[1]!r} '
                     f'(letters, digits, _ . -), got {dataset!r}.')
  return dataset


def _save_model_atomic(model: tf.keras.Model, path: str) -> None:
  directory, name = os.path.split(path)
  tmp = os.path.join(directory, f'.tmp-{os.getpid()}-{name}')  # Keras needs the suffix.
  try:
    model.save(tmp)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def _fix_hint(model_path: str, meta_path: str) -> str:
  return (f'Use another `cache_dir`, or delete {model_path} and {meta_path} to retrain '
          'the oracle there.')


def _read_cache(model_path: str, meta_path: str, expected: dict[str, Any]) -> Oracle:
  """Loads a cached oracle whose sidecar must match `expected`."""
  hint = _fix_hint(model_path, meta_path)
  try:
    with open(meta_path) as f:
      cached = json.load(f)
    if not isinstance(cached, dict):
      raise ValueError('not a JSON object')
  except (OSError, ValueError) as e:
    raise ValueError(f'The oracle sidecar {meta_path} is unreadable ({e}). {hint}') from None
  mismatched = [key for key in IDENTITY_KEYS if cached.get(key) != expected[key]]
  if mismatched:
    details = '; '.join(f'{key}: cached {cached.get(key)!r}, requested {expected[key]!r}'
                        for key in mismatched)
    raise ValueError(f'The oracle cached at {model_path} was trained with other settings '
                     f'({details}). {hint}')
  try:
    model = tf.keras.models.load_model(model_path, compile=False)
  except Exception as e:  # pylint: disable=broad-except
    # Keras raises many types (zipfile.BadZipFile, OSError, ValueError...).
    raise ValueError(f'{model_path} is not a readable Keras model ({e!r}). {hint}') from None
  oracle = Oracle(model, metadata=cached, path=model_path, loaded_from_cache=True)
  if (list(oracle.image_shape) != expected['image_shape']
      or oracle.num_classes != expected['num_classes']):
    raise ValueError(f'{model_path} maps {oracle.image_shape} images to {oracle.num_classes} '
                     f'classes, but its sidecar says {expected["image_shape"]} and '
                     f'{expected["num_classes"]}. {hint}')
  return oracle


@contextlib.contextmanager
def _cache_lock(cache_dir, dataset: str):
  """An exclusive advisory lock on the dataset's oracle cache (POSIX flock)."""
  path = os.path.join(os.fspath(cache_dir), f'oracle_{dataset}.lock')
  with open(path, 'a') as lock_file:
    fcntl.flock(lock_file, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock_file, fcntl.LOCK_UN)


def load_or_train_oracle(
    cache_dir: str,
    *,
    dataset: str = 'fashion_mnist',
    data_dir: Optional[str] = None,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    max_train_examples: Optional[int] = None,
    progress: bool = True,
) -> Oracle:
  """The dataset's oracle from `cache_dir`, trained and cached on first use.

  The training data is the 'train' split from `sources.load_dataset(dataset,
  data_dir=data_dir)`, cut to its first `max_train_examples` images if given.
  Files are written to temporary names and renamed (model first, sidecar
  last), so a reader never sees half a file.

  Args:
    cache_dir: directory of the cache (created if needed).
    dataset: a name accepted by `sources.load_dataset` ('mnist',
      'fashion_mnist', 'cifar10', or 'local' with `data_dir`).
    data_dir: passed to `load_dataset`.
    epochs: training epochs.
    seed: initialisation and shuffling seed (>= 0).
    max_train_examples: train on the first this many training images only
      (None: all of them).
    progress: log what happens and print one Keras line per epoch.

  Returns:
    The `Oracle`; `loaded_from_cache` tells whether it was read or trained.

  Raises:
    ValueError: bad arguments, or a cache at `cache_dir` for this dataset
      that was made with other settings or other training data, lacks its
      sidecar or model, or is unreadable. The message names the files to
      delete (or use another `cache_dir`).
    DatasetNotFoundError: the dataset is not available.
  """
  dataset = _check_dataset_name(dataset)
  epochs = checks.check_int(epochs, 'epochs', 1)
  seed = checks.check_int(seed, 'seed', 0)
  if max_train_examples is not None:
    max_train_examples = checks.check_int(max_train_examples, 'max_train_examples', 1)
  if not isinstance(cache_dir, (str, os.PathLike)):
    raise ValueError(f'`cache_dir` must be a directory path, got {cache_dir!r}.')
  os.makedirs(os.fspath(cache_dir), exist_ok=True)
  # One process trains, concurrent ones (parallel sweep runs) wait and load.
  with _cache_lock(cache_dir, dataset):
    model_path, meta_path = cache_paths(cache_dir, dataset)
    have_model, have_meta = os.path.exists(model_path), os.path.exists(meta_path)
    hint = _fix_hint(model_path, meta_path)
    if have_model != have_meta:
      present, missing = (model_path, meta_path) if have_model else (meta_path, model_path)
      raise ValueError(f'Incomplete oracle cache: {present} exists but {missing} does not '
                       f'(an interrupted write, or files copied by hand). {hint}')

    data = sources.load_dataset(dataset, split='train', data_dir=data_dir)
    x, y = data.x, data.y
    if max_train_examples is not None:
      x, y = x[:max_train_examples], y[:max_train_examples]
    expected = {
        'format_version': FORMAT_VERSION,
        'dataset': dataset,
        'image_shape': [int(d) for d in x.shape[1:]],
        'num_classes': int(data.num_classes),
        'epochs': epochs,
        'seed': seed,
        'max_train_examples': max_train_examples,
        'num_train_examples': int(len(x)),
        'data_fingerprint': fingerprint.array_fingerprint(x, y),
        'width': DEFAULT_WIDTH,
        'dense_units': DENSE_UNITS,
        'batch_size': DEFAULT_BATCH_SIZE,
        'learning_rate': LEARNING_RATE,
    }
    if have_model:
      oracle = _read_cache(model_path, meta_path, expected)
      if progress:
        logging.info('Loaded the %s oracle from %s.', dataset, model_path)
      return oracle

    if progress:
      logging.info('Training the %s oracle on %d images for %d epoch(s); it will be cached at '
                   '%s.', dataset, len(x), epochs, model_path)
    start = time.monotonic()
    model = train_oracle(x, y, num_classes=data.num_classes, epochs=epochs,
                         batch_size=DEFAULT_BATCH_SIZE, seed=seed, width=DEFAULT_WIDTH,
                         progress=progress)
    history = model.history.history if model.history is not None else {}
    metadata = dict(expected)
    metadata.update({
        'data_source': data.source,
        'final_train_accuracy': float(history['accuracy'][-1]) if 'accuracy' in history else None,
        'train_seconds': round(time.monotonic() - start, 1),
        'tensorflow_version': tf.__version__,
    })
    if os.path.exists(model_path) or os.path.exists(meta_path):
      raise ValueError(f'Another process wrote an oracle cache at {model_path} while this one '
                       f'was training; not overwriting it. {hint}')
    _save_model_atomic(model, model_path)
    io_utils.write_json_atomic(meta_path, metadata)
    return Oracle(model, metadata=metadata, path=model_path, loaded_from_cache=False)
