"""TFF views of the project's client datasets.

`build_client_data` wraps a `ClientStore` as a
`tff.simulation.datasets.ClientData` whose `dataset_computation` maps a client
id to that client's dataset *on the TFF worker*: a training process composed
with it (`compose_with_dataset_computation`) takes client ids, not data, so the
full datasets never travel over gRPC.
"""

from collections.abc import Callable
from typing import Optional

import tensorflow as tf
import tensorflow_federated as tff

from antigan_tf.data.client_store import ClientStore


def build_client_data(store: ClientStore) -> tff.simulation.datasets.ClientData:
  """Returns a `ClientData` reading each client's records from `store`."""
  return tff.simulation.datasets.ClientData.from_clients_and_tf_fn(
      store.client_ids, store.dataset_fn()
  )


def build_preprocess_fn(
    *,
    batch_size: int,
    local_epochs: int = 1,
    shuffle_buffer: int = 1000,
    seed: Optional[int] = None,
) -> Callable[[tf.data.Dataset], tf.data.Dataset]:
  """Returns the per-client `tf.data` pipeline: repeat, shuffle, batch.

  Args:
    batch_size: examples per local step (>= 1).
    local_epochs: passes over the client's data per round (>= 1).
    shuffle_buffer: shuffle buffer size; 0 or 1 disables shuffling.
    seed: shuffle seed for reproducible rounds; None for nondeterministic.

  Returns:
    A function usable with `ClientData.preprocess`.

  Raises:
    ValueError: non-positive `batch_size` / `local_epochs`, negative buffer.
  """
  if batch_size < 1:
    raise ValueError(f'`batch_size` must be >= 1, got {batch_size}.')
  if local_epochs < 1:
    raise ValueError(f'`local_epochs` must be >= 1, got {local_epochs}.')
  if shuffle_buffer < 0:
    raise ValueError(f'`shuffle_buffer` must be >= 0, got {shuffle_buffer}.')

  def preprocess(dataset: tf.data.Dataset) -> tf.data.Dataset:
    dataset = dataset.repeat(local_epochs)
    if shuffle_buffer > 1:
      dataset = dataset.shuffle(shuffle_buffer, seed=seed)
    return dataset.batch(batch_size)

  return preprocess


def compose_with_dataset_computation(
    client_data: tff.simulation.datasets.ClientData,
    process: tff.learning.templates.LearningProcess,
) -> tff.learning.templates.LearningProcess:
  """Makes `process.next` take client ids and build datasets on the worker."""
  return tff.simulation.compose_dataset_computation_with_learning_process(
      client_data.dataset_computation, process
  )
