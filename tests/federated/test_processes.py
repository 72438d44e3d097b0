"""FedAvg / DP-FedAvg processes: type signatures first, then execution."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from antigan_tf.federated import processes
from antigan_tf.federated import runtime as runtime_lib

_SHAPE = (8, 8, 1)


def _model_fn():
  return processes.build_model_fn(_SHAPE, 3)


def _client_dataset(seed, n=12):
  rng = np.random.default_rng(seed)
  x = rng.uniform(-1, 1, (n, *_SHAPE)).astype(np.float32)
  y = rng.integers(0, 3, n).astype(np.int32)
  return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)


# Type-signature tests: nothing is executed.


def test_weighted_and_dp_processes_take_client_sequences():
  for aggregation in processes.AGGREGATIONS:
    process = processes.build_learning_process(
        _model_fn(), client_learning_rate=0.1, aggregation=aggregation, clients_per_round=2)
    data_type = process.next.type_signature.parameter[1]
    assert data_type.placement == tff.CLIENTS
    assert isinstance(data_type.member, tff.SequenceType)
    assert process.initialize.type_signature.result.placement == tff.SERVER


def test_dp_state_holds_the_dp_aggregator_state():
  weighted = processes.build_learning_process(_model_fn(), client_learning_rate=0.1)
  dp = processes.build_learning_process(
      _model_fn(), client_learning_rate=0.1, aggregation='dp', clients_per_round=2)
  # The DP aggregator keeps state (noise seeds, the adaptive clip); the plain
  # weighted mean keeps none.
  weighted_agg = weighted.initialize.type_signature.result.member.aggregator
  dp_agg = dp.initialize.type_signature.result.member.aggregator
  assert str(weighted_agg) != str(dp_agg)
  assert 'float32' in str(dp_agg) or 'int' in str(dp_agg)


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'aggregation': 'median'}, 'aggregation'),
        ({'aggregation': 'dp', 'clients_per_round': None}, 'clients_per_round'),
        ({'aggregation': 'dp', 'clients_per_round': 2, 'dp_noise_multiplier': -1.0},
         'dp_noise_multiplier'),
        ({'aggregation': 'dp', 'clients_per_round': 2, 'dp_clip_norm': 0.0}, 'dp_clip_norm'),
    ],
)
def test_bad_process_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    processes.build_learning_process(_model_fn(), client_learning_rate=0.1, **kwargs)


def test_client_sampling_is_a_function_of_seed_and_round():
  ids = [f'c{i}' for i in range(10)]
  first = processes.sample_clients(ids, 4, seed=0, round_num=3)
  assert first == processes.sample_clients(list(reversed(ids)), 4, seed=0, round_num=3)
  assert len(set(first)) == 4 and set(first) <= set(ids)
  draws = {tuple(processes.sample_clients(ids, 4, seed=0, round_num=r)) for r in range(1, 9)}
  assert len(draws) > 1  # Rounds differ.
  assert processes.sample_clients(ids, 4, seed=1, round_num=3) != first or len(draws) > 1


def test_initial_weights_depend_on_the_seed_only():
  a = processes.initial_model_weights(_SHAPE, 3, seed=5)
  b = processes.initial_model_weights(_SHAPE, 3, seed=5)
  c = processes.initial_model_weights(_SHAPE, 3, seed=6)
  for wa, wb in zip(a.trainable, b.trainable):
    np.testing.assert_array_equal(wa, wb)
  assert any(not np.array_equal(wa, wc) for wa, wc in zip(a.trainable, c.trainable))


# Execution tests: on the managed worker.


@pytest.mark.parametrize('clip', [None, 0.5])
def test_dp_round_runs_and_clips(clip):
  process = processes.build_learning_process(
      _model_fn(), client_learning_rate=0.5, aggregation='dp', clients_per_round=2,
      dp_noise_multiplier=0.0, dp_clip_norm=clip)
  with runtime_lib.ManagedRuntime():
    state = process.initialize()
    before = process.get_model_weights(state)
    output = process.next(state, [_client_dataset(0), _client_dataset(1)])
    after = process.get_model_weights(output.state)
  metrics = processes.round_metrics(output.metrics)
  assert metrics['train_examples'] == 24 and np.isfinite(metrics['train_loss'])
  delta = np.sqrt(sum(np.sum((np.asarray(a) - np.asarray(b)) ** 2)
                      for a, b in zip(after.trainable, before.trainable)))
  assert delta > 0
  if clip is not None:
    # With no noise the update is the mean of updates clipped to 0.5.
    assert delta <= 0.5 + 1e-4
