"""The federated experiment: FedAvg with a victim, an adversary and defenses.

`run_federated(config)` is the library function behind `bin/run_tff`: an
`ExperimentConfig` in, files and a `FederatedResult` out. It composes:

  1. `run_setup.load_run_data`: load the dataset, partition it into victim /
     adversary / honest clients (nothing is written before this succeeds);
  2. `run_directory.exclusive` and `prepare`: the run directory, locked for
     this process while it runs, and its hparams.csv;
  3. `run_setup.share_victim_data`: the victim's hook (`defense='anti_gan'`
     or a custom `victim_transform`) turns X into X' once, outside TFF,
     cached in the run directory;
  4. `adversary.run_black_box_attack`: the paper's stronger black-box
     attacker (`'black_box'` in `attacks`), a WGAN-GP on what the victim shares;
  5. `run_setup.write_client_store`: the clients on disk, read by the TFF
     workers by client id;
  6. `rounds.run_rounds`: FedAvg rounds (or DP-FedAvg with `defense='dp'`);
     in each, the Hitaj et al. adversary (`'gan'` in `attacks`) trains its
     generator against the global model and injects its fakes; a metrics
     row and a checkpoint after every round;
  7. `adversary.run_adaptive_attack`: the adaptive attacker (`'adaptive'` in
     `attacks`) runs the defense on its own images, learns to invert it and
     inverts the others' reconstructions;
  8. `evaluation`: central RIAFI and leakage, then report.md.

Running the same config again resumes from the last checkpoint, and ends
exactly as an uninterrupted run. The run directory's files are listed in
`antigan_tf.layout`.
"""

import os
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional

from absl import logging

from antigan_tf import layout as layout_lib
from antigan_tf import metrics as metrics_lib
from antigan_tf.federated import adversary as adversary_lib
from antigan_tf.federated import checkpoints
from antigan_tf.federated import client_data as client_data_lib
from antigan_tf.federated import config as config_lib
from antigan_tf.federated import evaluation
from antigan_tf.federated import processes
from antigan_tf.federated import rounds as rounds_lib
from antigan_tf.federated import run_directory
from antigan_tf.federated import run_setup
from antigan_tf.federated import runtime as runtime_lib
from antigan_tf.federated import victim as victim_lib
from antigan_tf.utils import devices
from antigan_tf.utils import precision as precision_lib

CheckpointError = checkpoints.CheckpointError
ExperimentConfig = config_lib.ExperimentConfig


class FederatedResult(NamedTuple):
  """What `run_federated` returns.

  Attributes:
    final_metrics: the metrics row of the last round.
    history: the metrics rows of the rounds run by this call, in order.
    model_weights: the final global `tff.learning.models.ModelWeights`.
    output_dir: the run directory.
    resumed_from_round: the checkpointed round this call started from (0 for
      a fresh run).
    leakage: the leakage measurements (also in leakage.json), per attacker
      ('gan_adversary', 'black_box') and for the victim's shared data
      ('victim_shared'); empty when not measured.
  """

  final_metrics: Mapping[str, Any]
  history: list[Mapping[str, Any]]
  model_weights: Any
  output_dir: str
  resumed_from_round: int
  leakage: Mapping[str, Mapping[str, float]]


def run_federated(config: config_lib.ExperimentConfig, *,
                  victim_transform: Optional[victim_lib.VictimTransform] = None
                  ) -> FederatedResult:
  """Runs (or resumes) a federated experiment; see the module docstring.

  Args:
    config: every setting (`ExperimentConfig`, checked when it was built;
      `ExperimentConfig.from_flat` takes flag-named values).
    victim_transform: a custom `(x, y) -> (x', y')` hook applied to the
      victim's data instead of Anti-GAN (library use; with defense 'none' or
      'dp'). See `antigan_tf.federated.victim`.

  Returns:
    A `FederatedResult`.

  Raises:
    ValueError: a `victim_transform` with a defense other than 'none' and 'dp'
      (those that transform the victim's data themselves), a partition the
      data cannot give, bad worker addresses, an unwritable `output_dir`, one
      that holds another configuration's run, or one another process is
      running in (`locks.DirectoryInUseError`). All before any output.
    CheckpointError: an unreadable checkpoint (nothing is deleted).
    WorkerLostError: a TFF worker died or became unreachable mid-run; the
      message names it and the checkpoint a re-run resumes from.
    TimeoutError: a TFF worker never became ready.
    DatasetNotFoundError: the dataset is not available offline.
  """
  _check_victim_transform(config, victim_transform)
  runtime = _build_runtime(config.workers)  # Addresses checked; nothing starts before `with`.
  data = run_setup.load_run_data(config)
  layout = layout_lib.RunLayout(os.path.abspath(config.output_dir))
  with run_directory.exclusive(layout):
    run_directory.prepare(
        layout, run_directory.hparams_record(config, victim_transform, runtime.worker_addresses),
        overwrite=config.overwrite)
    return _run_in_directory(config, layout, runtime, data, victim_transform)


def _run_in_directory(config: config_lib.ExperimentConfig, layout: layout_lib.RunLayout,
                      runtime: runtime_lib.ManagedRuntime, data: run_setup.RunData,
                      victim_transform: Optional[victim_lib.VictimTransform]) -> FederatedResult:
  """The run, once its directory is prepared and locked."""
  logging.info('%s GAN networks compute in %s (--precision=%s).', devices.training_devices_line(),
               precision_lib.resolve(config.precision), config.precision)

  data = run_setup.share_victim_data(config, data, layout, victim_transform)
  if 'black_box' in config.attack.attacks:
    if data.victim_shares_class(config.federation.target_class):
      run_setup.log_phase('black-box attacker: %d WGAN-GP steps', config.attack.black_box_steps)
      adversary_lib.run_black_box_attack(config, data.victim_data, layout)
    else:
      run_setup.log_phase('black-box attacker: skipped, the victim shares no image of class %d',
                          config.federation.target_class)
  store = run_setup.write_client_store(data, layout)
  adversary = None
  if 'gan' in config.attack.attacks:
    adversary = adversary_lib.RoundAdversary(
        config, image_shape=data.image_shape, num_classes=data.num_classes)
  process = _build_process(config.federation, config.defense, store, data)
  with runtime:
    result = rounds_lib.run_rounds(config, layout, process, store, data, adversary)

  if 'adaptive' in config.attack.attacks:
    adversary_lib.run_adaptive_attack(config, data, layout, result.gan_reconstructions)
  if config.evaluation.central_riafi_epochs:
    evaluation.write_central_riafi(config, data, layout)
  leakage = {}
  if config.evaluation.leakage_metrics and (config.attack.attacks or data.shared is not None):
    leakage = evaluation.write_leakage(config, data, layout, result.gan_reconstructions)
  metrics_lib.write_run_report(layout.root)
  return FederatedResult(
      final_metrics=result.history[-1] if result.history else checkpoints.last_released_row(
          layout),
      history=result.history,
      model_weights=result.model_weights,
      output_dir=layout.root,
      resumed_from_round=result.resumed_from_round,
      leakage=leakage,
  )


def _check_victim_transform(config, victim_transform) -> None:
  if victim_transform is None:
    return
  if not callable(victim_transform):
    raise ValueError(f'`victim_transform` must be callable, got {victim_transform!r}.')
  if config.defense.defense not in ('none', 'dp'):
    raise ValueError(f'Pass either --defense={config.defense.defense} or a `victim_transform`, '
                     'not both.')
  if 'adaptive' in config.attack.attacks:
    raise ValueError('The adaptive attacker runs a defense of this library on its own images; '
                     'it cannot run a custom `victim_transform`: leave adaptive out of attacks.')


def _build_runtime(workers: config_lib.WorkersConfig) -> runtime_lib.ManagedRuntime:
  addresses = workers.tff_worker_addresses
  return runtime_lib.ManagedRuntime(
      num_workers=None if addresses else workers.tff_workers,
      worker_addresses=addresses or None,
      allow_remote_workers=workers.allow_remote_workers)


def _build_process(federation: config_lib.FederationConfig, defense: config_lib.DefenseConfig,
                   store, data: run_setup.RunData):
  """FedAvg (or DP-FedAvg) composed with the client store's datasets."""
  preprocess = client_data_lib.build_preprocess_fn(
      batch_size=federation.batch_size, local_epochs=federation.local_epochs,
      seed=federation.seed)
  client_data = client_data_lib.build_client_data(store).preprocess(preprocess)
  return client_data_lib.compose_with_dataset_computation(
      client_data,
      processes.build_learning_process(
          processes.build_model_fn(data.image_shape, data.model_classes),
          client_learning_rate=federation.client_learning_rate,
          server_learning_rate=federation.server_learning_rate,
          aggregation='dp' if defense.defense == 'dp' else 'weighted_mean',
          clients_per_round=federation.clients_per_round,
          dp_noise_multiplier=defense.dp_noise_multiplier,
          dp_clip_norm=defense.dp_clip_norm,
      ),
  )
