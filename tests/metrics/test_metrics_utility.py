"""Accuracies and RIAFI on hand examples and a toy model with fixed weights."""

import math

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf.metrics import utility


def _toy_classifier(softmax=False):
  """2x2x1 images -> 3 scores: [sum, -sum, 0.1] (Dense weights set by hand)."""
  inputs = tf.keras.Input((2, 2, 1))
  dense = tf.keras.layers.Dense(3, activation='softmax' if softmax else None)
  outputs = dense(tf.keras.layers.Flatten()(inputs))
  model = tf.keras.Model(inputs, outputs)
  dense.set_weights([np.array([[1.0, -1.0, 0.0]] * 4), np.array([0.0, 0.0, 0.1])])
  return model


def _images(*values):
  return np.stack([np.full((2, 2, 1), v, np.float32) for v in values])


def test_per_class_accuracy_by_hand():
  y_true = [0, 0, 0, 1, 1, 3]
  y_pred = [0, 1, 0, 1, 1, 0]
  result = utility.per_class_accuracy(y_true, y_pred, 4)
  np.testing.assert_allclose(result[[0, 1, 3]], [2 / 3, 1.0, 0.0])
  assert math.isnan(result[2])  # Class 2 absent from y_true.
  assert utility.accuracy(y_true, y_pred) == pytest.approx(4 / 6)


def test_accuracy_takes_argmax_of_scores():
  scores = np.array([[0.1, 0.9], [2.0, -1.0], [0.0, 3.0]])
  assert utility.accuracy([1, 0, 0], scores) == pytest.approx(2 / 3)
  np.testing.assert_allclose(utility.per_class_accuracy([1, 0, 0], scores, 2), [0.5, 1.0])


def test_riafi_of_toy_model():
  # Sums: +2 -> class 0, -2 -> class 1, 0 -> class 2 (bias 0.1 wins).
  x = _images(0.5, 0.5, 0.5, -0.5)
  model = _toy_classifier()
  assert utility.riafi(model, x, 0) == pytest.approx(0.75)
  assert utility.riafi(model, x, 1) == pytest.approx(0.25)
  assert utility.riafi(model, _images(0.0, 0.5), 2) == pytest.approx(0.5)
  assert utility.riafi(_toy_classifier(softmax=True), x, 0, batch_size=3) == pytest.approx(0.75)
  # Any callable returning (B, K) scores works.
  fn = lambda batch: tf.concat([tf.zeros([batch.shape[0], 1]), tf.ones([batch.shape[0], 1])], 1)
  assert utility.riafi(fn, x, 1) == 1.0


def test_riafi_ratio():
  assert utility.riafi_ratio(0.45, 0.9) == pytest.approx(0.5)
  assert utility.riafi_ratio(0.0, 0.5) == 0.0
  assert utility.riafi_ratio(1.0, 0.5) == pytest.approx(2.0)


@pytest.mark.parametrize('defended, undefended, match', [
    (0.5, 0.0, 'riafi_undefended.*0'),
    (1.5, 0.5, 'riafi_defended'),
    (0.5, -0.1, 'riafi_undefended'),
    (math.nan, 0.5, 'riafi_defended'),
    (0.5, math.inf, 'riafi_undefended'),
    ('0.5', 0.5, 'riafi_defended'),
])
def test_riafi_ratio_rejects_bad_values(defended, undefended, match):
  with pytest.raises(ValueError, match=match):
    utility.riafi_ratio(defended, undefended)


def test_riafi_rejects_bad_arguments():
  model = _toy_classifier()
  x = _images(0.5, -0.5)
  with pytest.raises(ValueError, match='target_class.*3 classes'):
    utility.riafi(model, x, 3)
  with pytest.raises(ValueError, match='target_class'):
    utility.riafi(model, x, -1)
  with pytest.raises(ValueError, match='x_real_target.*empty'):
    utility.riafi(model, x[:0], 0)
  with pytest.raises(ValueError, match='x_real_target.*NaN'):
    utility.riafi(model, x * np.nan, 0)
  with pytest.raises(ValueError, match=r'x_real_target.*\[-1, 1\]'):
    utility.riafi(model, x * 3, 0)
  with pytest.raises(ValueError, match='x_real_target.*shape'):
    utility.riafi(model, x[0], 0)
  with pytest.raises(ValueError, match='batch_size'):
    utility.riafi(model, x, 0, batch_size=0)
  with pytest.raises(ValueError, match='classifier'):
    utility.riafi('not a model', x, 0)
  with pytest.raises(ValueError, match='classifier.*num_classes'):
    utility.riafi(lambda batch: tf.zeros([batch.shape[0]]), x, 0)


@pytest.mark.parametrize('y_true, y_pred, match', [
    ([], [], 'y_true.*empty'),
    ([0, 1], [0], 'y_pred.*expected 2'),
    ([0, 5], [0, 1], 'y_true.*labels in'),
    ([0, 1], [0, 7], 'y_pred.*labels in'),
    ([0.5, 1], [0, 1], 'y_true.*whole'),
    ([0, 1], [[0.1, np.nan], [1, 0]], 'y_pred.*NaN'),
    ([0, 1], [[0.1, 0.2, 0.3]] * 2, 'y_pred.*3 classes'),
    ([[0, 1]], [0, 1], 'y_true.*shape'),
])
def test_per_class_accuracy_rejects_bad_labels(y_true, y_pred, match):
  with pytest.raises(ValueError, match=match):
    utility.per_class_accuracy(y_true, y_pred, 4)


def test_accuracy_rejects_bad_labels():
  with pytest.raises(ValueError, match='y_true.*non-negative'):
    utility.accuracy([-1, 0], [0, 0])
  with pytest.raises(ValueError, match='num_classes'):
    utility.per_class_accuracy([0], [0], 0)


def _blocks(labels, rng):
  """8x8 images whose bright quadrant is the label (0..3): easy to learn."""
  images = np.full((len(labels), 8, 8, 1), -1.0, np.float32)
  for i, label in enumerate(labels):
    r, c = divmod(int(label), 2)
    images[i, 4 * r:4 * r + 4, 4 * c:4 * c + 4] = 1.0
  return np.clip(images + rng.normal(0, 0.1, images.shape), -1, 1).astype(np.float32)


def test_central_riafi_learns_what_the_data_teaches():
  rng = np.random.default_rng(0)
  train_y = np.repeat(np.arange(4), 32)
  test_y = np.repeat(np.arange(4), 8)
  train_x, test_x = _blocks(train_y, rng), _blocks(test_y, rng)
  result = utility.central_riafi(train_x, train_y, test_x, test_y, target_class=2,
                                 epochs=15, batch_size=16, learning_rate=3e-3, seed=0)
  assert list(result) == ['riafi', 'target_precision', 'target_f1', 'test_accuracy']
  assert result['riafi'] == 1.0 and result['test_accuracy'] == 1.0
  assert result['target_precision'] == 1.0 and result['target_f1'] == 1.0
  # X' that carries another class's features (class 1's images labelled 2)
  # teaches the model nothing about real class-2 images.
  fake_x = train_x.copy()
  fake_x[train_y == 2] = train_x[train_y == 1]
  defended = utility.central_riafi(fake_x, train_y, test_x, test_y, target_class=2,
                                   epochs=15, batch_size=16, learning_rate=3e-3, seed=0)
  assert defended['riafi'] == 0.0
  assert defended['test_accuracy'] <= 0.75
  # A function of the seed alone.
  again = utility.central_riafi(fake_x, train_y, test_x, test_y, target_class=2,
                                epochs=15, batch_size=16, learning_rate=3e-3, seed=0)
  assert again == defended


def test_central_riafi_rejects_bad_arguments():
  x = np.zeros((4, 8, 8, 1), np.float32)
  y = np.array([0, 1, 0, 1])
  with pytest.raises(ValueError, match='no image of `target_class` 2'):
    utility.central_riafi(x, y, x, y, target_class=2)
  with pytest.raises(ValueError, match='3 labels'):
    utility.central_riafi(x, y[:3], x, y, target_class=1)
  with pytest.raises(ValueError, match='test_x'):
    utility.central_riafi(x, y, np.zeros((4, 4, 4, 1), np.float32), y, target_class=1)
  with pytest.raises(ValueError, match='epochs'):
    utility.central_riafi(x, y, x, y, target_class=1, epochs=0)


def test_target_class_scores_by_hand():
  y_true = np.array([6, 6, 6, 1, 1, 2])
  y_pred = np.array([6, 6, 1, 6, 6, 2])
  scores = utility.target_class_scores(y_true, y_pred, 6)
  assert scores['recall'] == pytest.approx(2 / 3)
  assert scores['precision'] == pytest.approx(2 / 4)
  assert scores['f1'] == pytest.approx(2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3))
  # Calling everything the target class: full recall, low precision.
  everything = utility.target_class_scores(y_true, np.full(6, 6), 6)
  assert everything['recall'] == 1.0 and everything['precision'] == pytest.approx(0.5)
  assert utility.target_class_scores(y_true, np.full(6, 1), 6) == {
      'recall': 0.0, 'precision': 0.0, 'f1': 0.0}


def test_balanced_subset_keeps_the_rarest_class_count_of_every_class():
  y = np.array([6] * 10 + [1] * 3 + [2] * 5)
  x = np.arange(len(y), dtype=np.float32)
  bx, by = utility.balanced_subset(x, y, seed=1)
  assert sorted(np.unique(by, return_counts=True)[1]) == [3, 3, 3]
  np.testing.assert_array_equal(y[bx.astype(int)], by)  # Images keep their labels.
  again, _ = utility.balanced_subset(x, y, seed=1)
  np.testing.assert_array_equal(bx, again)
