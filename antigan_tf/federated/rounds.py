"""The round loop: sampling, the adversary's step, FedAvg, the metrics row,
checkpoints.

Every source of randomness of a round is a function of (seed, round), and
the checkpoint holds all other state (`checkpoints.program_state`), so a
resumed run ends exactly as an uninterrupted one.
"""

import collections
import time
from typing import Any, NamedTuple, Optional

from antigan_tf import layout as layout_lib
from antigan_tf import models
from antigan_tf.data import client_store as client_store_lib
from antigan_tf.federated import adversary as adversary_lib
from antigan_tf.federated import checkpoints
from antigan_tf.federated import config as config_lib
from antigan_tf.federated import evaluation
from antigan_tf.federated import processes
from antigan_tf.federated import run_setup
import tensorflow_federated as tff
import tqdm

ROUND_KEY = 'round'


class RoundsResult(NamedTuple):
  """What `run_rounds` returns.

  Attributes:
    history: the metrics rows of the rounds run by this call.
    model_weights: the final global `tff.learning.models.ModelWeights`.
    resumed_from_round: the checkpointed round the loop started from.
    gan_reconstructions: the GAN adversary's final reconstructions, or None.
  """

  history: list
  model_weights: Any
  resumed_from_round: int
  gan_reconstructions: Any


class _Releases:
  """Where a round's metrics row goes: metrics.csv and TensorBoard."""

  def __init__(self, layout: layout_lib.RunLayout):
    self._managers = (
        tff.program.CSVFileReleaseManager(layout.metrics_csv, key_fieldname=ROUND_KEY),
        tff.program.TensorBoardReleaseManager(layout.tensorboard_dir))

  def release(self, row, round_num: int) -> None:
    for manager in self._managers:
      checkpoints.run_sync(manager.release(row, key=round_num))


def _restore(process, run_state: checkpoints.RunState, data: run_setup.RunData,
             adversary: Optional[adversary_lib.RoundAdversary], seed: int):
  """(learning state, round, last accuracy) of a fresh run or its checkpoint."""
  state = process.initialize()
  state = process.set_model_weights(
      state, processes.initial_model_weights(data.image_shape, data.model_classes, seed=seed))
  structure = checkpoints.program_state(
      state, adversary.gan.get_state() if adversary else [], round_num=0, attack_started=0,
      last_accuracy=None)
  loaded, start_round = run_state.load_latest(structure)
  if loaded is None:
    return state, 0, None
  run_setup.log_phase('resuming from the checkpoint of round %d', start_round)
  if adversary is not None:
    adversary.gan.set_state(list(loaded['attacker']))
    adversary.attack_started = int(loaded['attack_started'])
  last_accuracy = float(loaded['last_accuracy'])
  return loaded['learning'], start_round, None if last_accuracy < 0 else last_accuracy


def run_rounds(config: config_lib.ExperimentConfig, layout: layout_lib.RunLayout, process,
               store: client_store_lib.ClientStore, data: run_setup.RunData,
               adversary: Optional[adversary_lib.RoundAdversary]) -> RoundsResult:
  """Runs (or resumes) the FedAvg rounds up to `config.federation.rounds`.

  Must run inside the TFF runtime's context (`ManagedRuntime`).
  """
  federation = config.federation
  run_state = checkpoints.RunState(layout, federation.keep_checkpoints)
  releases = _Releases(layout)
  global_model = models.build_classifier(data.image_shape, data.model_classes)
  with run_state.resume_hint_on_lost_worker():
    state, start_round, last_accuracy = _restore(process, run_state, data, adversary,
                                                 federation.seed)
    process.get_model_weights(state).assign_weights_to(global_model)
    history = []
    bar = tqdm.tqdm(range(start_round + 1, federation.rounds + 1), desc='FedAvg rounds',
                    unit='round', initial=start_round, total=federation.rounds,
                    disable=not config.progress)
    for round_num in bar:
      run_setup.log_phase('FedAvg round %d/%d', round_num, federation.rounds)
      state, row = _one_round(config, process, state, round_num, store=store, data=data,
                              adversary=adversary, global_model=global_model,
                              last_accuracy=last_accuracy)
      releases.release(row, round_num)
      history.append(collections.OrderedDict([(ROUND_KEY, round_num), *row.items()]))
      last_accuracy = row['test_accuracy']
      if adversary is not None:
        adversary.save_reconstructions(layout, round_num)
      if round_num % federation.checkpoint_every_n_rounds == 0 or round_num == federation.rounds:
        run_state.save(checkpoints.program_state(
            state, adversary.gan.get_state() if adversary else [], round_num=round_num,
            attack_started=adversary.attack_started if adversary else 0,
            last_accuracy=last_accuracy), round_num)
      bar.set_postfix(test_acc=f'{row["test_accuracy"]:.3f}', loss=f'{row["train_loss"]:.3f}')
    store.remove_transient_client(adversary_lib.INJECTED_CLIENT)
    reconstructions = None
    if adversary is not None:
      reconstructions = adversary.reconstructions(config.evaluation.leakage_samples)
  return RoundsResult(history=history, model_weights=process.get_model_weights(state),
                      resumed_from_round=start_round, gan_reconstructions=reconstructions)


def _one_round(config, process, state, round_num, *, store, data, adversary, global_model,
               last_accuracy):
  """One FedAvg round: (new learning state, its metrics row)."""
  start = time.monotonic()
  partition = data.partition
  sampled = processes.sample_clients(
      store.client_ids, config.federation.clients_per_round, seed=config.federation.seed,
      round_num=round_num)
  row = collections.OrderedDict()
  participants = list(sampled)
  if adversary is not None:
    # global_model holds the current global model: the discriminator.
    participants, attack_row = adversary.attack(
        round_num, sampled=sampled, adversary_id=partition.adversary_id,
        adversary_data=data.clients[partition.adversary_id], global_model=global_model,
        last_accuracy=last_accuracy, store=store)
    row.update(attack_row)
  output = process.next(state, participants)
  process.get_model_weights(output.state).assign_weights_to(global_model)
  row.update(processes.round_metrics(output.metrics))
  row.update(evaluation.evaluate_classifier(
      global_model, data.test_x, data.test_y, num_classes=data.num_classes,
      target_class=config.federation.target_class))
  row['victim_sampled'] = int(partition.victim_id in sampled)
  row['adversary_sampled'] = int(partition.adversary_id in sampled)
  row['round_seconds'] = time.monotonic() - start
  return output.state, row
