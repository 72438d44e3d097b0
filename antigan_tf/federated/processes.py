"""The learning processes of the federation, built from TFF's learning API.

Honest FedAvg is `tff.learning.algorithms.build_weighted_fed_avg`, unchanged;
the differential-privacy baseline is `build_unweighted_fed_avg` with TFF's own
DP aggregator (DP-FedAvg needs unweighted averaging so one client's influence
is bounded by the clipping norm). Nothing here knows about the defense or the
attack: those change the data a client brings, never the protocol.
"""

import collections
from typing import Callable, Optional

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from antigan_tf import models
from antigan_tf.models import seeding

AGGREGATIONS = ('weighted_mean', 'dp')


def build_model_fn(input_shape, num_classes: int) -> Callable[[], tff.learning.models.VariableModel]:
  """Returns a no-arg `tff.learning` model function for the shared classifier.

  Args:
    input_shape: (H, W, C) of the images.
    num_classes: number of classes.

  Returns:
    A function building a fresh `tff.learning.models.VariableModel` wrapping
    `antigan_tf.models.build_classifier` (logits, sparse cross-entropy loss,
    accuracy metric).
  """
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


def initial_model_weights(input_shape, num_classes: int, *, seed: int) -> tff.learning.models.ModelWeights:
  """The global model's initial weights, a function of `seed` alone.

  TFF builds the model of `initialize` inside its own graph, where Keras'
  unseeded initialisers draw fresh values on every trace; building the model
  eagerly with seeded initialisers and writing its weights into the initial state
  makes runs (and the honest-FedAvg equivalence test) reproducible, without
  touching TF's global seed.
  """
  keras_model = models.build_classifier(input_shape, num_classes)
  seeding.seeded_initialize(keras_model, seed)
  return tff.learning.models.ModelWeights.from_model(keras_model)


def build_learning_process(
    model_fn: Callable[[], tff.learning.models.VariableModel],
    *,
    client_learning_rate: float,
    server_learning_rate: float = 1.0,
    aggregation: str = 'weighted_mean',
    clients_per_round: Optional[int] = None,
    dp_noise_multiplier: float = 1.0,
    dp_clip_norm: Optional[float] = None,
) -> tff.learning.templates.LearningProcess:
  """FedAvg as a `tff.learning.templates.LearningProcess`.

  Args:
    model_fn: no-arg function returning a `tff.learning.models.VariableModel`.
    client_learning_rate: learning rate of the clients' SGD.
    server_learning_rate: learning rate of the server's SGD (1.0 = the
      average of the client models).
    aggregation: 'weighted_mean' (FedAvg of McMahan et al., weighted by the
      number of examples) or 'dp' (DP-FedAvg: unweighted mean with clipping
      and Gaussian noise).
    clients_per_round: clients in each round; required for 'dp' (the noise
      is calibrated to it).
    dp_noise_multiplier: noise standard deviation / clipping norm.
    dp_clip_norm: fixed L2 clipping norm of each client update; None for
      TFF's adaptive clipping (Andrew et al. 2021; the clip tracks the median
      update norm).

  Returns:
    The learning process; `next(state, client_datasets)`.

  Raises:
    ValueError: unknown `aggregation` or bad DP parameters.
  """
  if aggregation not in AGGREGATIONS:
    raise ValueError(f'`aggregation` must be one of {AGGREGATIONS}, got {aggregation!r}.')
  client_optimizer_fn = tff.learning.optimizers.build_sgdm(client_learning_rate)
  server_optimizer_fn = tff.learning.optimizers.build_sgdm(server_learning_rate)
  if aggregation == 'weighted_mean':
    return tff.learning.algorithms.build_weighted_fed_avg(
        model_fn,
        client_optimizer_fn=client_optimizer_fn,
        server_optimizer_fn=server_optimizer_fn,
    )
  if clients_per_round is None or clients_per_round < 1:
    raise ValueError('DP aggregation needs `clients_per_round` >= 1.')
  if not (np.isfinite(dp_noise_multiplier) and dp_noise_multiplier >= 0):
    raise ValueError(
        f'`dp_noise_multiplier` must be finite and >= 0, got {dp_noise_multiplier!r}.')
  if dp_clip_norm is None:
    # TFF's adaptive clipping also adds noise to the count of clipped clients;
    # its default stddev (0.05 * clients per round) refuses noise multipliers
    # >= 0.1 * clients per round (1.0 with 10 clients), so it is raised to the
    # noise multiplier there: a noisier clip estimate, the same guarantee.
    aggregator = tff.aggregators.DifferentiallyPrivateFactory.gaussian_adaptive(
        noise_multiplier=float(dp_noise_multiplier),
        clients_per_round=float(clients_per_round),
        clipped_count_stddev=max(0.05 * clients_per_round, float(dp_noise_multiplier)),
    )
  else:
    if not (np.isfinite(dp_clip_norm) and dp_clip_norm > 0):
      raise ValueError(f'`dp_clip_norm` must be finite and > 0, got {dp_clip_norm!r}.')
    aggregator = tff.aggregators.DifferentiallyPrivateFactory.gaussian_fixed(
        noise_multiplier=float(dp_noise_multiplier),
        clients_per_round=float(clients_per_round),
        clip=float(dp_clip_norm),
    )
  return tff.learning.algorithms.build_unweighted_fed_avg(
      model_fn,
      client_optimizer_fn=client_optimizer_fn,
      server_optimizer_fn=server_optimizer_fn,
      model_aggregator=aggregator,
  )


def sample_clients(client_ids, clients_per_round: int, *, seed: int, round_num: int) -> list[str]:
  """The clients of one round: a function of (seed, round) only.

  Deriving each round's draw from (seed, round) rather than from one running
  generator means a resumed run samples exactly what an uninterrupted run
  would, with no generator state to checkpoint.
  """
  rng = np.random.default_rng([int(seed), int(round_num)])
  ids = sorted(client_ids)
  return sorted(rng.choice(ids, int(clients_per_round), replace=False).tolist())


def round_metrics(output_metrics) -> collections.OrderedDict:
  """Train loss / accuracy / examples from a FedAvg round's metrics."""
  train = output_metrics['client_work']['train']
  row = collections.OrderedDict()
  row['train_loss'] = float(train['loss'])
  row['train_accuracy'] = float(train['sparse_categorical_accuracy'])
  row['train_examples'] = int(train['num_examples'])
  return row
