"""The evaluation network on real Fashion-MNIST: its keyed cache, safe loading,
and the reference rows ranked the way a person would rank them."""

import os

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf.data import sources
from antigan_tf.metrics import class_leakage
from antigan_tf.metrics import evaluation_network as en

TARGET = 6  # Shirts.


@pytest.fixture(scope='module')
def cache_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp('evaluation'))


@pytest.fixture(scope='module')
def network(cache_dir):
  # 12000 images, 2 epochs: about 12 s here, and about 80% train accuracy.
  return en.load_or_train_evaluation_network(cache_dir, epochs=2, max_train_examples=12000,
                                             progress=False)


def test_cache_is_keyed_by_what_defines_the_network(cache_dir, network):
  assert not network.loaded_from_cache and network.metadata['architecture'] == en.ARCHITECTURE
  again = en.load_or_train_evaluation_network(cache_dir, epochs=2, max_train_examples=12000,
                                              progress=False)
  assert again.loaded_from_cache and again.path == network.path
  images = sources.load_dataset('fashion_mnist', split='test').x[:20]
  np.testing.assert_allclose(again.features(images), network.features(images), atol=1e-5)
  # Other settings get an entry of their own, side by side; nothing is refused.
  other = en.load_or_train_evaluation_network(cache_dir, epochs=1, max_train_examples=300,
                                              progress=False)
  assert other.path != network.path and not other.loaded_from_cache
  assert os.path.exists(network.path) and os.path.exists(other.path)


def test_a_file_that_is_not_its_weights_is_refused_and_runs_no_code(cache_dir, tmp_path):
  entry = en.load_or_train_evaluation_network(cache_dir, epochs=1, max_train_examples=300,
                                              progress=False)
  marker = str(tmp_path / 'code_ran')

  def payload(x):
    open(marker, 'w').close()  # What a malicious Lambda would do on load.
    return x

  inputs = tf.keras.Input((28, 28, 1))
  evil = tf.keras.Model(inputs, tf.keras.layers.Lambda(payload)(inputs))
  evil.save(str(tmp_path / 'evil.h5'), save_format='h5')
  if os.path.exists(marker):
    os.remove(marker)  # Saving traced the Lambda once.
  os.replace(tmp_path / 'evil.h5', entry.path)
  with pytest.raises(ValueError, match='does not hold this evaluation network'):
    en.load_or_train_evaluation_network(cache_dir, epochs=1, max_train_examples=300,
                                        progress=False)
  assert not os.path.exists(marker)


def test_reference_rows_rank_like_a_person_would(network):
  test = sources.load_dataset('fashion_mnist', split='test')
  scored, public = class_leakage.split_held_out(test.x, test.y, TARGET)
  held_out = class_leakage.HeldOut(network, scored, TARGET)
  other = class_leakage.nearest_other_class(network, test.x, test.y, TARGET)
  assert other in (0, 2, 4)  # T-shirt, pullover or coat: what a shirt resembles.
  rows = class_leakage.reference_rows(held_out, public, test.x[test.y == other], count=500)
  assert all(row['num_samples'] == 500 and not row['few_samples'] for row in rows.values())
  not_leaky = ('binarised_mean', 'uniform_noise', 'black', 'noisy_blob')
  for metric in class_leakage.HEADLINE_METRICS:
    leakier = ((lambda a, b: a < b) if metric in class_leakage.LOWER_IS_LEAKIER
               else (lambda a, b: a > b))
    values = {name: row[metric] for name, row in rows.items()}
    # Held-out real images (a perfect attacker) leak most ...
    assert all(leakier(values['held_out_real'], v) for n, v in values.items()
               if n != 'held_out_real'), (metric, values)
    # ... and blobs, noise, black and mean images less than another class.
    assert all(leakier(values['other_class'], values[n]) for n in not_leaky), (metric, values)
  # Why precision, density and the confident rate are not headline metrics:
  # some set that leaks nothing beats another class on them (which one
  # varies with the network's training).
  fooled = [n for n in not_leaky for m in class_leakage.FOOLED_BY_BLOBS
            if rows[n][m] > rows['other_class'][m]]
  assert fooled, rows
