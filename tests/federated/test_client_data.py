"""TFF view of the client store: type signatures, then execution on a worker."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from antigan_tf.data import client_store as store_lib
from antigan_tf.federated import client_data as client_data_lib
from antigan_tf.federated import runtime as runtime_lib
from antigan_tf.federated import processes


@pytest.fixture
def store(tmp_path):
  rng = np.random.default_rng(0)
  clients = {
      'victim': (rng.uniform(-1, 1, (6, 28, 28, 1)).astype(np.float32), np.full(6, 6, np.int32)),
      'honest_0': (rng.uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32), np.arange(4, dtype=np.int32)),
  }
  return store_lib.write_client_store(str(tmp_path / 'store'), clients)


# Type-signature tests: nothing is executed.


def test_dataset_computation_maps_client_id_to_sequence(store):
  client_data = client_data_lib.build_client_data(store)
  signature = client_data.dataset_computation.type_signature
  assert signature.parameter == tff.TensorType(np.str_)
  assert isinstance(signature.result, tff.SequenceType)
  image_type, label_type = signature.result.element
  assert image_type == tff.TensorType(np.float32, [28, 28, 1])
  assert label_type == tff.TensorType(np.int32)
  assert client_data.client_ids == ['victim', 'honest_0']


def test_composed_fedavg_takes_client_ids(store):
  preprocess = client_data_lib.build_preprocess_fn(batch_size=2, shuffle_buffer=0)
  client_data = client_data_lib.build_client_data(store).preprocess(preprocess)
  process = client_data_lib.compose_with_dataset_computation(
      client_data,
      tff.learning.algorithms.build_weighted_fed_avg(
          processes.build_model_fn((28, 28, 1), 10),
          client_optimizer_fn=tff.learning.optimizers.build_sgdm(0.1),
      ),
  )
  data_type = process.next.type_signature.parameter[1]
  assert data_type == tff.FederatedType(tff.SequenceType(np.str_), tff.CLIENTS) or (
      data_type.placement == tff.CLIENTS and data_type.member == tff.TensorType(np.str_)
  )


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'batch_size': 0}, 'batch_size'),
        ({'batch_size': 2, 'local_epochs': 0}, 'local_epochs'),
        ({'batch_size': 2, 'shuffle_buffer': -1}, 'shuffle_buffer'),
    ],
)
def test_bad_preprocess_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    client_data_lib.build_preprocess_fn(**kwargs)


# Execution tests: on a managed worker.


def test_worker_builds_the_same_data_as_the_store(store):
  client_data = client_data_lib.build_client_data(store)

  @tff.federated_computation(tff.FederatedType(np.str_, tff.CLIENTS))
  def count_and_sum(client_ids):
    @tff.tensorflow.computation(tff.SequenceType((
        tff.TensorType(np.float32, [28, 28, 1]), tff.TensorType(np.int32))))
    def stats(dataset):
      return dataset.reduce(
          (np.int32(0), np.int32(0)), lambda acc, e: (acc[0] + 1, acc[1] + e[1])
      )

    datasets = tff.federated_map(client_data.dataset_computation, client_ids)
    return tff.federated_map(stats, datasets)

  with runtime_lib.ManagedRuntime():
    result = count_and_sum(['victim', 'honest_0'])
  assert [tuple(int(v) for v in r) for r in result] == [(6, 36), (4, 6)]


def test_preprocess_repeats_and_batches(store):
  preprocess = client_data_lib.build_preprocess_fn(batch_size=4, local_epochs=2, shuffle_buffer=0)
  batches = list(preprocess(store.client_dataset('victim')).as_numpy_iterator())
  assert [len(b[1]) for b in batches] == [4, 4, 4]
  assert all((b[1] == 6).all() for b in batches)
