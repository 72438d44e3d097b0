"""The evaluation network: the judge of reconstructions, not the attacked model.

A reconstruction is scored in the feature space of a classifier trained once,
centrally, on a dataset's real training split. It must not be the attacked
model (the shared classifier, which the attackers optimise against) nor
share its architecture: a BatchNorm CNN with global average pooling
(`build_evaluation_network`), whose 128 pooled features feed the headline
leakage metrics (Fréchet distance, KID, precision and recall; see
`class_leakage`).

It is cached on disk under a key made of everything that defines it (the
dataset and a fingerprint of its training arrays, the architecture, epochs,
seed and precision), so different settings live side by side:

    <cache_dir>/evalnet_<dataset>_<key>.weights.h5   the weights
    <cache_dir>/evalnet_<dataset>_<key>.json         what it was trained on
    <cache_dir>/evalnet_<dataset>_<key>_references_class<c>_n<n>_seed<s>.json
                                                     reference rows scored by it

Only weights are stored: loading rebuilds the architecture with the builder
below and reads the weights into it, so a cache file cannot run code.
A concurrent trainer of the same entry waits on a file lock and then loads.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
from typing import Any, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from antigan_tf.data import images as images_lib
from antigan_tf.data import sources
from antigan_tf.models import seeding
from antigan_tf.utils import checks
from antigan_tf.utils import fingerprint
from antigan_tf.utils import io as io_utils
from antigan_tf.utils import precision as precision_lib

ARCHITECTURE = 'bn_cnn_gap_v1'
# Bumped when the reference rows gain a metric, so older cached rows are not read.
REFERENCE_ROWS_VERSION = 2
FEATURES = 128
DEFAULT_EPOCHS = 3
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
PREDICT_BATCH_SIZE = 1000
_DATASET_NAME = re.compile(r'[A-Za-z0-9_.-]+')


def build_evaluation_network(image_shape, num_classes: int) -> tf.keras.Model:
  """A BatchNorm CNN with global average pooling: images -> logits.

  Its layer 'features' (the 128 pooled activations) is what the metrics
  compare. Unlike the shared classifier (`models.build_classifier`, no
  BatchNorm, a dense head on flattened maps), so the judge does not share the
  attacked model's blind spots.
  """
  inputs = tf.keras.Input(shape=tuple(image_shape), name='images')
  h = inputs
  for filters, stride in ((32, 1), (32, 2), (64, 1), (64, 2), (FEATURES, 1)):
    h = tf.keras.layers.Conv2D(filters, 3, strides=stride, padding='same', use_bias=False)(h)
    h = tf.keras.layers.BatchNormalization()(h)
    h = tf.keras.layers.ReLU()(h)
  # float32 features and logits under a mixed policy: the metrics use both.
  features = tf.keras.layers.GlobalAveragePooling2D(name='features', dtype='float32')(h)
  logits = tf.keras.layers.Dense(num_classes, name='logits', dtype='float32')(features)
  return tf.keras.Model(inputs, logits, name='evaluation_network')


class EvaluationNetwork:
  """A trained evaluation network: class probabilities and features of images.

  Attributes:
    model: the Keras model (images -> logits).
    metadata: what it was trained on (the cache sidecar).
    image_shape: (H, W, C) it takes.
    num_classes: classes it predicts.
    path: the cached weights file, or None.
    loaded_from_cache: whether it was read from the cache.
  """

  def __init__(self, model: tf.keras.Model, *, metadata: dict[str, Any],
               path: Optional[str] = None, loaded_from_cache: bool = False):
    self.model = model
    self.metadata = dict(metadata)
    self.image_shape = tuple(int(d) for d in model.input_shape[1:])
    self.num_classes = int(model.output_shape[-1])
    self.path = path
    self.loaded_from_cache = loaded_from_cache
    self._both = tf.keras.Model(model.input, [model.get_layer('features').output, model.output])

  def scores(self, x, *, batch_size: int = PREDICT_BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """((N, 128) pooled features, (N, num_classes) softmax probabilities), one pass."""
    images = images_lib.check_images(x, 'x', image_shape=self.image_shape)
    features, logits = self._both.predict(images, batch_size=batch_size, verbose=0)
    logits = np.asarray(logits, np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    return np.asarray(features, np.float64), probs / probs.sum(axis=1, keepdims=True)

  def predict_proba(self, x, *, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """(N, num_classes) softmax probabilities (float64)."""
    return self.scores(x, batch_size=batch_size)[1]

  def features(self, x, *, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """(N, 128) pooled features (float64)."""
    return self.scores(x, batch_size=batch_size)[0]


def train_evaluation_network(x, y, *, num_classes: int, epochs: int = DEFAULT_EPOCHS,
                             seed: int = 0, progress: bool = False) -> tf.keras.Model:
  """Trains `build_evaluation_network` centrally on real (x, y).

  Adam (1e-3), cross-entropy on logits, batch 128; weights from
  `seeded_initialize(model, seed)` and a seeded shuffle, so the global random
  state is neither used nor changed.

  Raises:
    ValueError: invalid images or labels, or a bad number.
  """
  num_classes = checks.check_int(num_classes, 'num_classes', 2)
  images = images_lib.check_images(x, 'x')
  labels = np.asarray(y).astype(np.int32)
  if labels.shape != (len(images),):
    raise ValueError(f'`y` must have shape ({len(images)},), got {labels.shape}.')
  epochs = checks.check_int(epochs, 'epochs', 1)
  seed = checks.check_int(seed, 'seed', 0)
  model = build_evaluation_network(images.shape[1:], num_classes)
  seeding.seeded_initialize(model, seed)
  model.compile(optimizer=tf.keras.optimizers.Adam(LEARNING_RATE),
                loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=['accuracy'])
  data = tf.data.Dataset.from_tensor_slices((images, labels))
  data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
  # shuffle=False: `data` is shuffled already (Keras 3 warns otherwise).
  model.fit(data.batch(BATCH_SIZE), epochs=epochs, shuffle=False, verbose=2 if progress else 0)
  return model


def cache_key(identity: dict[str, Any]) -> str:
  """16 hex digits of the SHA-256 of `identity` (sorted JSON)."""
  text = json.dumps(identity, sort_keys=True)
  return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]


def cache_paths(cache_dir: str, dataset: str, key: str) -> tuple[str, str]:
  """(weights file, JSON sidecar) of one cache entry."""
  base = os.path.join(os.fspath(cache_dir), f'evalnet_{dataset}_{key}')
  return base + '.weights.h5', base + '.json'


def reference_rows_path(network: 'EvaluationNetwork', *, target_class: int, count: int,
                        seed: int) -> str:
  """Where the reference rows of a target class are cached, next to the network."""
  base = network.path[:-len('.weights.h5')]
  return (f'{base}_references_v{REFERENCE_ROWS_VERSION}_class{target_class}_n{count}'
          f'_seed{seed}.json')


@contextlib.contextmanager
def _entry_lock(path: str):
  with open(path + '.lock', 'a') as lock_file:
    fcntl.flock(lock_file, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock_file, fcntl.LOCK_UN)


def _identity(dataset: str, x: np.ndarray, y: np.ndarray, num_classes: int, *, epochs: int,
              seed: int, precision: str, max_train_examples: Optional[int]) -> dict[str, Any]:
  return {
      'dataset': dataset, 'data_fingerprint': fingerprint.array_fingerprint(x, y),
      'num_train_examples': int(len(x)), 'max_train_examples': max_train_examples,
      'image_shape': [int(d) for d in x.shape[1:]], 'num_classes': int(num_classes),
      'architecture': ARCHITECTURE, 'epochs': epochs, 'seed': seed, 'precision': precision,
      'batch_size': BATCH_SIZE, 'learning_rate': LEARNING_RATE,
  }


def _load(weights_path: str, meta_path: str, identity: dict[str, Any]) -> EvaluationNetwork:
  try:
    with open(meta_path) as f:
      metadata = json.load(f)
  except (OSError, ValueError) as e:
    raise ValueError(f'The evaluation network sidecar {meta_path} is unreadable ({e}); '
                     f'delete it and {weights_path} to retrain.') from None
  with precision_lib.policy_scope(identity['precision']):
    model = build_evaluation_network(identity['image_shape'], identity['num_classes'])
  try:
    model.load_weights(weights_path)
  except Exception as e:  # pylint: disable=broad-except
    # h5py and Keras raise many types (OSError, ValueError, KeyError...).
    raise ValueError(f'{weights_path} does not hold this evaluation network\'s weights '
                     f'({type(e).__name__}: {e}); delete it and {meta_path} to retrain.') from None
  return EvaluationNetwork(model, metadata=metadata, path=weights_path, loaded_from_cache=True)


def load_or_train_evaluation_network(
    cache_dir: str,
    *,
    dataset: str = 'fashion_mnist',
    data_dir: Optional[str] = None,
    num_classes: Optional[int] = None,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    precision: str = 'float32',
    max_train_examples: Optional[int] = None,
    progress: bool = True,
) -> EvaluationNetwork:
  """The dataset's evaluation network from `cache_dir`, trained on first use.

  Args:
    cache_dir: directory of the cache (created if needed).
    dataset: a name accepted by `sources.load_dataset`.
    data_dir: passed to `load_dataset`.
    num_classes: passed to `load_dataset` (local data only).
    epochs: training epochs.
    seed: initialisation and shuffling seed.
    precision: 'float32', 'mixed_bfloat16' or 'auto' (`utils.precision`): the
      Keras policy it is built and trained under; the resolved name is part of
      the key.
    max_train_examples: train on the first this many training images only.
    progress: log what happens.

  Returns:
    The `EvaluationNetwork`.

  Raises:
    ValueError: bad arguments or an unreadable cache entry (named).
    DatasetNotFoundError: the dataset is not available.
  """
  if not isinstance(dataset, str) or not _DATASET_NAME.fullmatch(dataset):
    raise ValueError(f'`dataset` must be a dataset name, got {dataset!r}.')
  epochs = checks.check_int(epochs, 'epochs', 1)
  seed = checks.check_int(seed, 'seed', 0)
  if max_train_examples is not None:
    max_train_examples = checks.check_int(max_train_examples, 'max_train_examples', 1)
  precision = precision_lib.resolve(precision)
  data = sources.load_dataset(dataset, split='train', data_dir=data_dir, num_classes=num_classes)
  x, y = data.x, data.y
  if max_train_examples is not None:
    x, y = x[:max_train_examples], y[:max_train_examples]
  identity = _identity(dataset, x, y, data.num_classes, epochs=epochs, seed=seed,
                       precision=precision, max_train_examples=max_train_examples)
  os.makedirs(os.fspath(cache_dir), exist_ok=True)
  weights_path, meta_path = cache_paths(cache_dir, dataset, cache_key(identity))
  with _entry_lock(weights_path):
    if os.path.exists(weights_path) and os.path.exists(meta_path):
      if progress:
        logging.info('Loaded the %s evaluation network from %s.', dataset, weights_path)
      return _load(weights_path, meta_path, identity)
    if progress:
      logging.info('Training the %s evaluation network on %d images for %d epoch(s); cached '
                   'at %s.', dataset, len(x), epochs, weights_path)
    start = time.monotonic()
    with precision_lib.policy_scope(precision):
      model = train_evaluation_network(x, y, num_classes=data.num_classes, epochs=epochs,
                                       seed=seed, progress=progress)
    history = model.history.history if model.history is not None else {}
    metadata = dict(identity, data_source=data.source,
                    train_seconds=round(time.monotonic() - start, 1),
                    final_train_accuracy=float(history['accuracy'][-1]) if history else None,
                    tensorflow_version=tf.__version__)
    tmp = f'{weights_path}.tmp-{os.getpid()}.weights.h5'  # Keras wants the suffix.
    model.save_weights(tmp)
    os.replace(tmp, weights_path)
    io_utils.write_json_atomic(meta_path, metadata)
    return EvaluationNetwork(model, metadata=metadata, path=weights_path)
