"""What a run measures: the global model each round, and after training the
central RIAFI (utility.json) and the leakage of what the attackers
reconstructed and the victim shared (leakage.json). Plain TF, through
`antigan_tf.metrics`.
"""

import collections
import os
from typing import Optional

import numpy as np
import tensorflow as tf

from antigan_tf import layout as layout_lib
from antigan_tf import metrics as metrics_lib
from antigan_tf.federated import config as config_lib
from antigan_tf.federated import run_setup
from antigan_tf.utils import io as io_utils


def evaluate_classifier(keras_model: tf.keras.Model, x: np.ndarray, y: np.ndarray, *,
                        num_classes: int, target_class: int,
                        batch_size: int = 1000) -> 'collections.OrderedDict[str, float]':
  """Loss, accuracy, target-class accuracy and per-class accuracy on (x, y)."""
  logits = keras_model.predict(x, batch_size=batch_size, verbose=0)
  loss = tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
  per_class = metrics_lib.per_class_accuracy(y, logits, num_classes)
  row = collections.OrderedDict()
  row['test_loss'] = float(np.mean(loss))
  row['test_accuracy'] = metrics_lib.accuracy(y, logits)
  row['target_accuracy'] = float(per_class[target_class])
  for c, value in enumerate(per_class):
    row[f'accuracy_class_{c}'] = float(value)
  return row


def default_oracle_dir() -> str:
  """$ANTIGAN_TF_CACHE_DIR/oracles, or ~/.cache/antigan_tf/oracles."""
  root = os.environ.get('ANTIGAN_TF_CACHE_DIR') or os.path.join(
      os.path.expanduser('~'), '.cache', 'antigan_tf')
  return os.path.join(root, 'oracles')


def write_central_riafi(config: config_lib.ExperimentConfig, data: run_setup.RunData,
                        layout: layout_lib.RunLayout) -> None:
  """The paper's RIAFI protocol on the clients' data as the federation sees it."""
  epochs = config.evaluation.central_riafi_epochs
  run_setup.log_phase('central RIAFI: %d epochs', epochs)
  utility = metrics_lib.central_riafi(
      np.concatenate([x for x, _ in data.clients.values()]),
      np.concatenate([y for _, y in data.clients.values()]),
      data.test_x, data.test_y, target_class=config.federation.target_class, epochs=epochs,
      seed=config.federation.seed)
  io_utils.write_json_atomic(
      layout.utility_json,
      collections.OrderedDict((f'central_{k}', v) for k, v in utility.items()),
      sort_keys=False)


def write_leakage(config: config_lib.ExperimentConfig, data: run_setup.RunData,
                  layout: layout_lib.RunLayout, gan_reconstructions: Optional[np.ndarray]):
  """Leakage of each attacker's reconstructions, and of the shared X'.

  Returns:
    attacker ('gan_adversary', 'black_box', 'victim_shared') -> metrics, as
    written to leakage.json.
  """
  run_setup.log_phase('leakage metrics (oracle: trained once per dataset, then cached)')
  evaluation, federation = config.evaluation, config.federation
  oracle = metrics_lib.load_or_train_oracle(
      evaluation.oracle_dir or default_oracle_dir(), dataset=federation.dataset,
      data_dir=federation.data_dir, epochs=evaluation.oracle_epochs, seed=federation.seed,
      max_train_examples=evaluation.oracle_max_train_examples, progress=config.progress)
  target_class = federation.target_class
  leakage = collections.OrderedDict()
  if gan_reconstructions is not None:
    leakage['gan_adversary'] = metrics_lib.leakage_report(
        gan_reconstructions, data.real_target, oracle=oracle, target_class=target_class)
  if 'black_box' in config.attack.attacks:
    with np.load(layout.black_box_npz) as cached:
      leakage['black_box'] = metrics_lib.leakage_report(
          cached['x'], data.real_target, oracle=oracle, target_class=target_class)
  if data.shared is not None:
    shared_x, shared_y = data.shared
    leakage['victim_shared'] = metrics_lib.defended_data_report(
        shared_x[shared_y == target_class], data.real_target)
  io_utils.write_json_atomic(layout.leakage_json, leakage, sort_keys=False)
  return leakage
