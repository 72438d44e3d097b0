"""Federated training of the shared classifier with TFF's FedAvg.

`run_fedavg` is the library function behind `bin/run_tff`: plain keyword
arguments in, files and a `FedAvgResult` out. It loads a dataset, partitions
it into the paper's victim / adversary / honest clients, writes the clients to
an on-disk `ClientStore` (so the TFF worker builds datasets itself), runs
`tff.learning.algorithms.build_weighted_fed_avg` for some rounds on a
`ManagedRuntime`, and evaluates the global model on the real test set after
every round.

Outputs under `output_dir`:
  hparams.csv   every argument of the run (name,value);
  metrics.csv   one row per round (TFF's `CSVFileReleaseManager`);
  client_store/ the partitioned client data (reused when it matches).
"""

import asyncio
import collections
import os
import time
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff
import tqdm

from antigan_tf import models
from antigan_tf.data import client_store as client_store_lib
from antigan_tf.data import partition as partition_lib
from antigan_tf.data import sources
from antigan_tf.federated import client_data as client_data_lib
from antigan_tf.federated import runtime as runtime_lib
from antigan_tf.utils.io import write_hparams_csv

ROUND_KEY = 'round'


class FedAvgResult(NamedTuple):
  """What `run_fedavg` returns.

  Attributes:
    final_metrics: the metrics row of the last round.
    history: every round's metrics row, in order.
    model_weights: the final global `tff.learning.models.ModelWeights`.
    output_dir: where hparams.csv and metrics.csv were written.
  """

  final_metrics: Mapping[str, Any]
  history: list[Mapping[str, Any]]
  model_weights: Any
  output_dir: str


def _run_sync(coroutine):
  # TFF's own training loop drives release managers the same way; in a
  # notebook (a loop already running) call nest_asyncio.apply() first.
  return asyncio.get_event_loop().run_until_complete(coroutine)


def _check_positive_int(value, argname: str) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
    raise ValueError(f'`{argname}` must be a positive integer, got {value!r}.')
  return int(value)


def _check_positive_float(value, argname: str) -> float:
  if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
    raise ValueError(f'`{argname}` must be a positive finite number, got {value!r}.')
  return float(value)


def build_model_fn(input_shape, num_classes: int):
  """Returns a no-arg `tff.learning` model function for the shared classifier."""
  input_spec = (
      tf.TensorSpec([None, *input_shape], tf.float32),
      tf.TensorSpec([None], tf.int32),
  )

  def model_fn():
    return tff.learning.models.from_keras_model(
        models.build_classifier(input_shape, num_classes),
        input_spec=input_spec,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )

  return model_fn


def evaluate_classifier(
    keras_model: tf.keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    num_classes: int,
    target_class: int,
    batch_size: int = 1000,
) -> collections.OrderedDict:
  """Loss, accuracy, target-class accuracy and per-class accuracy on (x, y)."""
  logits = keras_model.predict(x, batch_size=batch_size, verbose=0)
  loss = tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
  predictions = np.argmax(logits, axis=1)
  correct = predictions == y
  metrics = collections.OrderedDict()
  metrics['test_loss'] = float(np.mean(loss))
  metrics['test_accuracy'] = float(np.mean(correct))
  per_class = []
  for c in range(num_classes):
    mask = y == c
    per_class.append(float(np.mean(correct[mask])) if mask.any() else float('nan'))
  metrics['target_accuracy'] = per_class[target_class]
  for c, value in enumerate(per_class):
    metrics[f'accuracy_class_{c}'] = value
  return metrics


def _prepare_store(
    output_dir: str, partition, x: np.ndarray, y: np.ndarray
) -> client_store_lib.ClientStore:
  directory = os.path.join(output_dir, 'client_store')
  fingerprint = partition.fingerprint()
  try:
    store = client_store_lib.ClientStore(directory)
    if store.metadata.get('partition_fingerprint') == fingerprint:
      return store
  except (FileNotFoundError, ValueError):
    pass
  clients = {cid: partition.client_arrays(cid, x, y) for cid in partition.client_ids}
  return client_store_lib.write_client_store(
      directory,
      clients,
      metadata={'partition_fingerprint': fingerprint},
      overwrite=True,
  )


def run_fedavg(
    *,
    output_dir: str,
    dataset: str = 'fashion_mnist',
    data_dir: Optional[str] = None,
    num_clients: int = 10,
    clients_per_round: int = 10,
    rounds: int = 5,
    local_epochs: int = 1,
    batch_size: int = 32,
    client_learning_rate: float = 0.05,
    server_learning_rate: float = 1.0,
    target_class: int = 6,
    adversary_classes: tuple[int, int] = (0, 1),
    victim_shared_class: Optional[int] = None,
    honest_distribution: str = 'iid',
    dirichlet_alpha: float = 0.5,
    max_examples_per_client: Optional[int] = None,
    max_test_examples: Optional[int] = None,
    seed: int = 0,
    num_workers: int = 1,
    progress: bool = True,
) -> FedAvgResult:
  """Runs plain FedAvg over the paper's client partition and logs metrics.

  Args:
    output_dir: run directory for hparams.csv, metrics.csv and the client store.
    dataset: 'fashion_mnist', 'mnist', 'cifar10' or 'local' (with `data_dir`).
    data_dir: directory to load the dataset from first (see
      `antigan_tf.data.load_dataset`).
    num_clients: K, total clients (victim, adversary, honest).
    clients_per_round: clients sampled (without replacement) each round.
    rounds: FedAvg rounds.
    local_epochs: local passes over each client's data per round.
    batch_size: local batch size.
    client_learning_rate: client SGD learning rate.
    server_learning_rate: server SGD learning rate (1.0 = plain averaging).
    target_class: class held only by the victim.
    adversary_classes: the adversary's two classes.
    victim_shared_class: optional class shared by the victim.
    honest_distribution: 'iid' or 'dirichlet'.
    dirichlet_alpha: Dirichlet concentration for honest clients.
    max_examples_per_client: cap on each client's examples (tiny runs).
    max_test_examples: evaluate on the first N test examples only.
    seed: seed of the partition, client sampling, shuffling and model init.
    num_workers: TFF worker processes of the managed runtime.
    progress: show a progress bar over rounds.

  Returns:
    A `FedAvgResult`.

  Raises:
    ValueError: on any inconsistent argument (named in the message).
  """
  hparams = collections.OrderedDict(
      (name, value) for name, value in sorted(locals().items())
  )
  rounds = _check_positive_int(rounds, 'rounds')
  num_clients = _check_positive_int(num_clients, 'num_clients')
  clients_per_round = _check_positive_int(clients_per_round, 'clients_per_round')
  if clients_per_round > num_clients:
    raise ValueError(
        f'`clients_per_round` ({clients_per_round}) must not exceed '
        f'`num_clients` ({num_clients}).'
    )
  _check_positive_float(client_learning_rate, 'client_learning_rate')
  _check_positive_float(server_learning_rate, 'server_learning_rate')
  if max_test_examples is not None:
    _check_positive_int(max_test_examples, 'max_test_examples')
  preprocess = client_data_lib.build_preprocess_fn(
      batch_size=batch_size, local_epochs=local_epochs, seed=seed
  )

  train = sources.load_dataset(dataset, split='train', data_dir=data_dir)
  test = sources.load_dataset(dataset, split='test', data_dir=data_dir)
  partition = partition_lib.partition_clients(
      train.y,
      num_classes=train.num_classes,
      num_clients=num_clients,
      target_class=target_class,
      adversary_classes=tuple(adversary_classes),
      victim_shared_class=victim_shared_class,
      honest_distribution=honest_distribution,
      dirichlet_alpha=dirichlet_alpha,
      max_examples_per_client=max_examples_per_client,
      seed=seed,
  )

  os.makedirs(output_dir, exist_ok=True)
  write_hparams_csv(os.path.join(output_dir, 'hparams.csv'), hparams)
  store = _prepare_store(output_dir, partition, train.x, train.y)
  test_x, test_y = test.x, test.y
  if max_test_examples is not None:
    test_x, test_y = test_x[:max_test_examples], test_y[:max_test_examples]

  input_shape = train.x.shape[1:]
  tf.keras.utils.set_random_seed(seed)
  model_fn = build_model_fn(input_shape, train.num_classes)
  client_data = client_data_lib.build_client_data(store).preprocess(preprocess)
  process = client_data_lib.compose_with_dataset_computation(
      client_data,
      tff.learning.algorithms.build_weighted_fed_avg(
          model_fn,
          client_optimizer_fn=tff.learning.optimizers.build_sgdm(client_learning_rate),
          server_optimizer_fn=tff.learning.optimizers.build_sgdm(server_learning_rate),
      ),
  )
  eval_model = models.build_classifier(input_shape, train.num_classes)
  metrics_path = os.path.join(output_dir, 'metrics.csv')
  if os.path.exists(metrics_path):
    os.remove(metrics_path)  # A fresh run; resuming is the checkpoint issue's job.
  release_manager = tff.program.CSVFileReleaseManager(
      metrics_path, key_fieldname=ROUND_KEY
  )
  rng = np.random.default_rng(seed)
  history = []

  with runtime_lib.ManagedRuntime(num_workers=num_workers):
    state = process.initialize()
    bar = tqdm.trange(1, rounds + 1, desc='FedAvg rounds', unit='round', disable=not progress)
    for round_num in bar:
      start = time.monotonic()
      sampled = sorted(rng.choice(store.client_ids, clients_per_round, replace=False).tolist())
      output = process.next(state, sampled)
      state = output.state
      train_metrics = output.metrics['client_work']['train']
      process.get_model_weights(state).assign_weights_to(eval_model)
      row = collections.OrderedDict()
      row['train_loss'] = float(train_metrics['loss'])
      row['train_accuracy'] = float(train_metrics['sparse_categorical_accuracy'])
      row['train_examples'] = int(train_metrics['num_examples'])
      row.update(
          evaluate_classifier(
              eval_model, test_x, test_y,
              num_classes=train.num_classes, target_class=target_class,
          )
      )
      row['victim_sampled'] = int(partition.victim_id in sampled)
      row['adversary_sampled'] = int(partition.adversary_id in sampled)
      row['round_seconds'] = time.monotonic() - start
      _run_sync(release_manager.release(row, key=round_num))
      history.append(collections.OrderedDict([(ROUND_KEY, round_num), *row.items()]))
      bar.set_postfix(test_acc=f'{row["test_accuracy"]:.3f}', loss=f'{row["train_loss"]:.3f}')
    final_weights = process.get_model_weights(state)

  return FedAvgResult(
      final_metrics=history[-1],
      history=history,
      model_weights=final_weights,
      output_dir=output_dir,
  )
