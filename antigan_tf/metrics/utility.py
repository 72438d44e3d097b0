"""Utility of the defended data: accuracies and the paper's RIAFI.

RIAFI ("Real-Image Accuracy from Fake Images", Luo & Zhu, sec. 4.1) asks
whether the obfuscated set X' still carries X's classification features: a
model is trained with X' in place of X, then tested on *real* images of the
victim's class. `riafi` is that last step; the caller trains the model.
`riafi_ratio` compares it with the same experiment without the defense.
"""

import collections
from collections.abc import Callable
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from antigan_tf.metrics import _validation
from antigan_tf.models import builders
from antigan_tf.models import seeding
from antigan_tf.utils import checks

DEFAULT_BATCH_SIZE = 1000


def _predicted_labels(
    y_pred, argname: str, count: int, num_classes: Optional[int] = None,
) -> np.ndarray:
  """Labels from (N,) labels or (N, K) scores (argmax)."""
  array = np.asarray(y_pred)
  if array.ndim == 2:
    scores = _validation.check_scores(array, argname, count=count)
    if num_classes is not None and scores.shape[1] != num_classes:
      raise ValueError(f'`{argname}` has scores for {scores.shape[1]} classes, expected '
                       f'`num_classes` = {num_classes}.')
    return np.argmax(scores, axis=1)
  labels = _validation.check_labels(array, argname, num_classes=num_classes)
  if len(labels) != count:
    raise ValueError(f'`{argname}` has {len(labels)} entries, expected {count} '
                     '(one per entry of `y_true`).')
  return labels


def per_class_accuracy(y_true, y_pred, num_classes: int) -> np.ndarray:
  """Accuracy within each true class.

  Args:
    y_true: (N,) integer labels in [0, num_classes).
    y_pred: (N,) predicted labels in [0, num_classes), or (N, num_classes)
      logits/probabilities (argmax is taken; the first maximum on ties).
    num_classes: number of classes.

  Returns:
    (num_classes,) float64: for class c, the fraction of examples with
    y_true == c that are predicted c; NaN for classes absent from `y_true`.

  Raises:
    ValueError: empty or mis-shaped inputs, different lengths, labels outside
      [0, num_classes), non-integer labels or non-finite scores.
  """
  num_classes = checks.check_int(num_classes, 'num_classes', 1)
  y_true = _validation.check_labels(y_true, 'y_true', num_classes=num_classes)
  predicted = _predicted_labels(y_pred, 'y_pred', len(y_true), num_classes)
  counts = np.bincount(y_true, minlength=num_classes).astype(np.float64)
  hits = np.bincount(y_true[predicted == y_true], minlength=num_classes).astype(np.float64)
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.where(counts > 0, hits / np.maximum(counts, 1.0), np.nan)


def accuracy(y_true, y_pred) -> float:
  """Fraction of examples whose prediction equals the label.

  Args:
    y_true: (N,) non-negative integer labels.
    y_pred: (N,) predicted labels, or (N, K) logits/probabilities (argmax).

  Returns:
    Accuracy in [0, 1].

  Raises:
    ValueError: empty or mis-shaped inputs, different lengths, negative or
      non-integer labels, non-finite scores.
  """
  y_true = _validation.check_labels(y_true, 'y_true')
  predicted = _predicted_labels(y_pred, 'y_pred', len(y_true))
  return float(np.mean(predicted == y_true))


def predict_scores(
    classifier: Callable[..., Any], images: np.ndarray, *, batch_size: int, argname: str,
) -> np.ndarray:
  """(N, K) float64 outputs of `classifier` on validated images, in batches.

  Keras models are called with `training=False`; other callables with the
  batch only.
  """
  if not callable(classifier):
    raise ValueError(f'`{argname}` must be a Keras model or a callable mapping images to '
                     f'(batch, num_classes) scores, got {type(classifier).__name__}.')
  outputs = []
  for start in range(0, len(images), batch_size):
    batch = tf.constant(images[start:start + batch_size])
    if isinstance(classifier, tf.keras.Model):
      scores = classifier(batch, training=False)
    else:
      scores = classifier(batch)
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[0] != len(batch):
      raise ValueError(f'`{argname}` must return (batch, num_classes) scores, got shape '
                       f'{scores.shape} for a batch of {len(batch)} images.')
    outputs.append(scores)
  return _validation.check_scores(np.concatenate(outputs), f'outputs of `{argname}`')


def riafi(
    classifier: Callable[..., Any],
    x_real_target,
    target_class: int,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> float:
  """Real-Image Accuracy from Fake Images (the paper's RIAFI).

  The accuracy, on real test images of the victim's class, of a classifier
  trained with the victim's obfuscated X' in place of X. Training is the
  caller's job: this is the accuracy of `classifier` on `x_real_target`, all
  labelled `target_class`. Pass a model trained on real X to get the
  undefended reference for `riafi_ratio`.

  Args:
    classifier: Keras model or callable mapping (B, H, W, C) images to
      (B, K) logits or probabilities; the prediction is the argmax.
    x_real_target: (N, H, W, C) real images of `target_class`, in [-1, 1].
    target_class: the victim's class, in [0, K).
    batch_size: images per forward pass.

  Returns:
    Fraction of `x_real_target` predicted as `target_class`, in [0, 1].

  Raises:
    ValueError: invalid images, a bad `target_class` or `batch_size`, or
      classifier outputs that are not finite (N, K) scores with
      K > target_class.
  """
  images = _validation.check_images(x_real_target, 'x_real_target')
  target_class = checks.check_int(target_class, 'target_class', 0)
  batch_size = checks.check_int(batch_size, 'batch_size', 1)
  scores = predict_scores(classifier, images, batch_size=batch_size, argname='classifier')
  if target_class >= scores.shape[1]:
    raise ValueError(f'`target_class` is {target_class} but `classifier` outputs '
                     f'{scores.shape[1]} classes.')
  return float(np.mean(np.argmax(scores, axis=1) == target_class))


def riafi_ratio(riafi_defended: float, riafi_undefended: float) -> float:
  """RIAFI with the defense divided by RIAFI without it.

  1.0 means the obfuscated data taught the classifier as much about the real
  target class as the real data did; 0.0 means nothing.

  Args:
    riafi_defended: RIAFI of a model trained on X', in [0, 1].
    riafi_undefended: RIAFI of a model trained on X, in (0, 1].

  Returns:
    riafi_defended / riafi_undefended (can exceed 1).

  Raises:
    ValueError: a value that is not a finite number in [0, 1], or
      `riafi_undefended` == 0 (the ratio is undefined: the undefended model
      never recognises the class, so there is nothing to preserve).
  """
  defended = _validation.check_unit_interval(riafi_defended, 'riafi_defended')
  undefended = _validation.check_unit_interval(riafi_undefended, 'riafi_undefended')
  if undefended == 0.0:
    raise ValueError('`riafi_undefended` is 0: the undefended model never predicts the target '
                     'class on real images, so the ratio is undefined.')
  return defended / undefended


def central_riafi(
    train_x,
    train_y,
    test_x,
    test_y,
    *,
    target_class: int,
    epochs: int = 2,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> 'collections.OrderedDict[str, float]':
  """The paper's RIAFI protocol outside the federation.

  Trains a fresh copy of the shared classifier (`antigan_tf.models`, weights
  from `seed`) centrally with Adam on (train_x, train_y), the union of the
  clients' data as the federation sees it (the victim's X' in place of X),
  then measures it on the real test set. Without the federation's
  non-IID dynamics, it isolates what the data itself teaches: pass the
  undefended union for the reference.

  Args:
    train_x, train_y: training images (N, H, W, C) in [-1, 1] and labels.
    test_x, test_y: real test images and labels.
    target_class: the victim's class.
    epochs: passes over the training data (>= 1).
    batch_size: training batch size (>= 1).
    learning_rate: Adam step size (> 0).
    seed: initialisation and shuffling seed (>= 0).

  Returns:
    OrderedDict(riafi=accuracy on the real `target_class` test images (the
    target class's recall), target_precision and target_f1 (a model that
    calls everything the target class has a high RIAFI and a low precision),
    test_accuracy=accuracy on the whole test set).

  Raises:
    ValueError: invalid images or labels, a target class absent from
      `test_y`, or bad training settings.
  """
  train_x = _validation.check_images(train_x, 'train_x')
  test_x = _validation.check_images(test_x, 'test_x')
  if train_x.shape[1:] != test_x.shape[1:]:
    raise ValueError(f'`train_x` images are {train_x.shape[1:]} but `test_x` images are '
                     f'{test_x.shape[1:]}.')
  train_y = _validation.check_labels(train_y, 'train_y')
  test_y = _validation.check_labels(test_y, 'test_y')
  for x, y, name in ((train_x, train_y, 'train'), (test_x, test_y, 'test')):
    if len(x) != len(y):
      raise ValueError(f'`{name}_x` has {len(x)} images but `{name}_y` {len(y)} labels.')
  target_class = checks.check_int(target_class, 'target_class', 0)
  if not np.any(test_y == target_class):
    raise ValueError(f'`test_y` has no image of `target_class` {target_class}.')
  epochs = checks.check_int(epochs, 'epochs', 1)
  batch_size = checks.check_int(batch_size, 'batch_size', 1)
  checks.check_positive_float(learning_rate, 'learning_rate')
  seed = checks.check_int(seed, 'seed', 0)

  num_classes = int(max(train_y.max(), test_y.max(), target_class)) + 1
  model = builders.build_classifier(train_x.shape[1:], num_classes)
  seeding.seeded_initialize(model, seed, stream=1)
  model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate),
                loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  data = tf.data.Dataset.from_tensor_slices((train_x, train_y)).shuffle(
      len(train_x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
  model.fit(data, epochs=epochs, shuffle=False, verbose=0)  # `data` is shuffled already.
  predictions = np.argmax(
      predict_scores(model, test_x, batch_size=DEFAULT_BATCH_SIZE, argname='model'), axis=1)
  scores = target_class_scores(test_y, predictions, target_class)
  return collections.OrderedDict(
      riafi=scores['recall'], target_precision=scores['precision'], target_f1=scores['f1'],
      test_accuracy=float(np.mean(predictions == test_y)))


def target_class_scores(y_true, y_pred, target_class: int) -> dict[str, float]:
  """Recall (RIAFI), precision and F1 of one class; 0 where undefined.

  Args:
    y_true: (N,) true labels.
    y_pred: (N,) predicted labels.
    target_class: the class.

  Returns:
    dict(recall, precision, f1).
  """
  y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
  hits = float(np.sum((y_pred == target_class) & (y_true == target_class)))
  actual, predicted = float(np.sum(y_true == target_class)), float(np.sum(y_pred == target_class))
  recall = hits / actual if actual else 0.0
  precision = hits / predicted if predicted else 0.0
  f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
  return {'recall': recall, 'precision': precision, 'f1': f1}


def balanced_subset(x, y, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """As many images of every class present as the rarest one has, drawn seeded.

  The balanced protocol of central RIAFI: a victim that shares more images
  of its class than the others share of theirs cannot raise RIAFI by volume.
  """
  y = np.asarray(y)
  classes, counts = np.unique(y, return_counts=True)
  rng = np.random.default_rng(seed)
  keep = np.sort(np.concatenate([
      rng.choice(np.flatnonzero(y == c), size=int(counts.min()), replace=False)
      for c in classes]))
  return np.asarray(x)[keep], y[keep]
