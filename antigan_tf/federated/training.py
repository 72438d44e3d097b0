"""The federated experiment: FedAvg with a victim, an adversary and defenses.

`run_federated` is the library function behind `bin/run_tff`: plain keyword
arguments in, files and a `FederatedResult` out. Data flow of one run:

  1. load the dataset, partition it into victim / adversary / honest clients;
  2. the victim's hook (`defense='anti_gan'` or a custom `victim_transform`)
     turns X into X' once, outside TFF, cached in the run directory;
  3. the paper's stronger black-box attacker (`'black_box'` in `attacks`)
     trains a WGAN-GP on what the victim shares;
  4. the clients are written to an on-disk `ClientStore` that the TFF worker
     reads by client id;
  5. FedAvg rounds (`build_weighted_fed_avg`, or DP-FedAvg with
     `defense='dp'`); in each round the Hitaj et al. adversary (`'gan'` in
     `attacks`) trains its generator against the current global model and
     injects its fakes, labelled `attack_fake_label`, into its local data;
  6. after every round: the global model on the real test set, a metrics row
     (CSV + TensorBoard), reconstructions grids, and a checkpoint of the whole
     program state (`tff.program.FileProgramStateManager`).

Running the same call again resumes from the last checkpoint. Every source of
randomness of a round is a function of (seed, round), and the checkpoint holds
all other state, so a resumed run ends exactly as an uninterrupted one.

Outputs under `output_dir`:
  hparams.csv             every argument of the run (name,value);
  metrics.csv             one row per round (`tff.program.CSVFileReleaseManager`);
  tensorboard/            the same rows as TensorBoard scalars;
  program_state/          checkpoints (TFF state, adversary, round);
  client_store/           the clients' data as the federation sees it;
  victim/                 the victim's shared data (cache) and defender runs;
  attack/                 reconstructions of the attackers (PNG grids, .npz).
"""

import asyncio
import collections
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Optional, Union

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_federated as tff
import tqdm

from antigan_tf import attack as attack_lib
from antigan_tf import metrics as metrics_lib
from antigan_tf import models
from antigan_tf.data import client_store as client_store_lib
from antigan_tf.data import partition as partition_lib
from antigan_tf.data import sources
from antigan_tf.defense import defender as defender_lib
from antigan_tf.defense import monitoring
from antigan_tf.federated import client_data as client_data_lib
from antigan_tf.federated import processes
from antigan_tf.federated import runtime as runtime_lib
from antigan_tf.federated import victim as victim_lib
from antigan_tf.federated import workers as workers_lib
from antigan_tf.utils import checks
from antigan_tf.utils import devices
from antigan_tf.utils import io as io_utils
from antigan_tf.utils.fingerprint import array_fingerprint
from antigan_tf.utils.io import format_hparam
from antigan_tf.utils.io import read_csv_rows
from antigan_tf.utils.io import read_hparams_csv
from antigan_tf.utils.io import write_hparams_csv

ROUND_KEY = 'round'
DEFENSES = ('none', 'anti_gan', 'dp')
ATTACKS = ('gan', 'black_box')
HPARAMS_FILE = metrics_lib.HPARAMS_FILE
METRICS_FILE = metrics_lib.METRICS_FILE
STATE_DIR = 'program_state'
# The victim's real target-class images, as a grid (victim/).
REAL_TARGET_GRID = 'real_target_class.png'
# Arguments that may change between a run and its resumption: they do not
# change what the run computes (`rounds` extends or finishes a run).
RESUMABLE_CHANGES = frozenset({
    'rounds', 'progress', 'overwrite',
    # Where the rounds run: any workers compute the same rounds (to float32
    # summation order), so a run may resume on others after losing one.
    'tff_workers', 'tff_worker_addresses', 'allow_remote_workers',
    # Measured after training; they never change what is trained.
    'leakage_metrics', 'central_riafi_epochs', 'oracle_dir', 'oracle_epochs', 'oracle_max_train_examples'})
# What `overwrite=True` deletes: only outputs this function writes.
_RUN_OUTPUTS = (HPARAMS_FILE, METRICS_FILE, 'tensorboard', STATE_DIR, 'client_store',
                'victim', 'attack', metrics_lib.LEAKAGE_FILE, metrics_lib.UTILITY_FILE,
                metrics_lib.REPORT_FILE)
_INJECTED_CLIENT = 'adversary.injected'
# Prefix of the log lines that say which stage a run is in (read by sweeps).
PHASE_MARKER = '[antigan_tf phase]'


def _log_phase(message: str, *args) -> None:
  logging.info(f'{PHASE_MARKER} {message}', *args)


class CheckpointError(ValueError):
  """A checkpoint in the run directory cannot be used (nothing is deleted)."""


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


def _run_sync(coroutine):
  """Runs a TFF program-manager coroutine to completion, as TFF's loop does."""
  try:
    running = asyncio.get_running_loop()
  except RuntimeError:
    running = None
  if running is not None and not getattr(running, '_nest_patched', False):
    coroutine.close()
    raise RuntimeError(
        'run_federated was called inside a running asyncio event loop (a notebook?). '
        'Run `import nest_asyncio; nest_asyncio.apply()` first.')
  return asyncio.get_event_loop().run_until_complete(coroutine)


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


def _prepare_store(directory: str, clients: Mapping[str, tuple[np.ndarray, np.ndarray]],
                   fingerprint: str) -> client_store_lib.ClientStore:
  try:
    store = client_store_lib.ClientStore(directory)
    if store.metadata.get('fingerprint') == fingerprint:
      return store
  except (FileNotFoundError, ValueError):
    pass
  return client_store_lib.write_client_store(
      directory, clients, metadata={'fingerprint': fingerprint}, overwrite=True)


def _check_writable(output_dir: str) -> None:
  try:
    os.makedirs(output_dir, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=output_dir, prefix='.write-test-'):
      pass
  except OSError as e:
    raise ValueError(f'`output_dir` {output_dir!r} is not writable: {e.strerror or e}.') from e


def _check_existing_run(output_dir: str, hparams: Mapping[str, Any], overwrite: bool) -> None:
  """Refuses a run directory that holds another configuration's run."""
  state_dir = os.path.join(output_dir, STATE_DIR)
  hparams_path = os.path.join(output_dir, HPARAMS_FILE)
  has_run = os.path.isdir(state_dir) and os.listdir(state_dir)
  if overwrite:
    for name in _RUN_OUTPUTS:
      path = os.path.join(output_dir, name)
      if os.path.isdir(path):
        shutil.rmtree(path)
      elif os.path.exists(path):
        os.remove(path)
    return
  if not has_run:
    return
  if not os.path.exists(hparams_path):
    raise CheckpointError(
        f'{output_dir!r} holds checkpoints but no {HPARAMS_FILE}; use another '
        '`output_dir` or `overwrite=True`.')
  previous = read_hparams_csv(hparams_path)
  current = {k: format_hparam(v) for k, v in hparams.items()}
  differing = sorted(
      k for k in set(previous) | set(current)
      if k not in RESUMABLE_CHANGES and previous.get(k) != current.get(k))
  if differing:
    details = ', '.join(
        f'{k} ({previous.get(k, "unset") or "None"} -> {current.get(k, "unset") or "None"})'
        for k in differing)
    raise ValueError(
        f'{output_dir!r} holds a checkpoint of a different configuration: {details}. '
        'Use another `output_dir`, or `overwrite=True` (--overwrite) to start over.')


def _defender_config(defender_config) -> defender_lib.DefenderConfig:
  if defender_config is None:
    return defender_lib.DefenderConfig()
  if isinstance(defender_config, defender_lib.DefenderConfig):
    return defender_config
  if isinstance(defender_config, Mapping):
    return defender_lib.DefenderConfig.from_dict(dict(defender_config))
  raise ValueError(
      f'`defender_config` must be a DefenderConfig, a mapping or None, got {defender_config!r}.')


class _Attacker:
  """The Hitaj et al. adversary inside the run loop (plain TF, outside TFF)."""

  def __init__(self, *, image_shape, num_classes, target_class, fake_label, latent_dim,
               generator_width, learning_rate, batch_size, seed, steps, num_images,
               start_round, start_accuracy):
    self.gan = attack_lib.GanAttacker(
        image_shape,
        target_class=target_class,
        fake_label=fake_label,
        num_classes=num_classes,
        latent_dim=latent_dim,
        generator_width=generator_width,
        learning_rate=learning_rate,
        batch_size=batch_size,
        seed=seed,
    )
    self.steps = steps
    self.num_images = num_images
    self.start_round = start_round
    self.start_accuracy = start_accuracy

  def should_start(self, round_num: int, last_accuracy: Optional[float]) -> bool:
    if round_num < self.start_round:
      return False
    if self.start_accuracy is None:
      return True
    return last_accuracy is not None and last_accuracy >= self.start_accuracy


def run_federated(
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
    adversary_classes: Sequence[int] = (0, 1),
    victim_shared_class: Optional[int] = None,
    honest_distribution: str = 'iid',
    dirichlet_alpha: float = 0.5,
    max_examples_per_client: Optional[int] = None,
    max_test_examples: Optional[int] = None,
    defense: str = 'none',
    defender_config: Union[defender_lib.DefenderConfig, Mapping[str, Any], None] = None,
    victim_transform: Optional[victim_lib.VictimTransform] = None,
    dp_noise_multiplier: float = 1.0,
    dp_clip_norm: Optional[float] = None,
    attacks: Sequence[str] = (),
    attack_fake_label: Optional[int] = None,
    attack_start_round: int = 1,
    attack_start_accuracy: Optional[float] = None,
    attack_generator_steps: int = 50,
    attack_num_images: int = 100,
    attack_batch_size: int = 64,
    attack_learning_rate: float = 2e-4,
    attack_latent_dim: int = 100,
    attack_generator_width: int = 64,
    attack_grid_every_n_rounds: int = 5,
    black_box_steps: int = 500,
    black_box_width: int = 64,
    num_reconstructions: int = 64,
    leakage_metrics: bool = True,
    central_riafi_epochs: int = 2,
    oracle_dir: Optional[str] = None,
    oracle_epochs: int = metrics_lib.DEFAULT_ORACLE_EPOCHS,
    oracle_max_train_examples: Optional[int] = None,
    seed: int = 0,
    checkpoint_every_n_rounds: int = 1,
    keep_checkpoints: int = 3,
    overwrite: bool = False,
    tff_workers: int = 1,
    tff_worker_addresses: Sequence[str] = (),
    allow_remote_workers: bool = False,
    progress: bool = True,
) -> FederatedResult:
  """Runs (or resumes) a federated experiment; see the module docstring.

  Args:
    output_dir: the run directory.
    dataset: 'fashion_mnist', 'mnist', 'cifar10' or 'local' (with `data_dir`).
    data_dir: directory to load the dataset from first (see
      `antigan_tf.data.load_dataset`).
    num_clients: K, total clients (victim, adversary, honest).
    clients_per_round: clients sampled (without replacement) each round.
    rounds: total FedAvg rounds of the run (a resumed run continues to it).
    local_epochs: local passes over each client's data per round.
    batch_size: local batch size.
    client_learning_rate: client SGD learning rate.
    server_learning_rate: server SGD learning rate (1.0 = plain averaging).
    target_class: class a, held only by the victim; the attackers' target.
    adversary_classes: the adversary's two classes [b, c].
    victim_shared_class: optional class the victim shares with the adversary.
    honest_distribution: 'iid' or 'dirichlet'.
    dirichlet_alpha: Dirichlet concentration for honest clients.
    max_examples_per_client: cap on each client's examples (quick runs).
    max_test_examples: evaluate on the first N test examples only.
    defense: 'none', 'anti_gan' (the victim shares the Anti-GAN X' of its
      target-class images) or 'dp' (DP-FedAvg with TFF's DP aggregator).
    defender_config: `DefenderConfig` (or a mapping of its fields) for
      'anti_gan'; its `epochs` is the defender's training length.
    victim_transform: a custom `(x, y) -> (x', y')` hook applied to the
      victim's data instead of Anti-GAN (library use; with defense 'none' or
      'dp'). See `antigan_tf.federated.victim`.
    dp_noise_multiplier: DP noise standard deviation / clipping norm.
    dp_clip_norm: fixed clipping norm; None for adaptive clipping.
    attacks: any of 'gan' (the Hitaj et al. adversarial client) and
      'black_box' (a WGAN-GP trained on what the victim shares).
    attack_fake_label: class c the adversary gives its fakes; default the
      adversary's second class.
    attack_start_round: first round the adversary attacks.
    attack_start_accuracy: if set, the adversary also waits until the global
      test accuracy of the previous round reaches it.
    attack_generator_steps: adversary generator steps per round.
    attack_num_images: fakes injected into the adversary's data per round.
    attack_batch_size: adversary generator batch size.
    attack_learning_rate: adversary generator Adam learning rate.
    attack_latent_dim: adversary latent size.
    attack_generator_width: adversary generator base filters.
    attack_grid_every_n_rounds: reconstruction grid every N rounds (and at
      the end).
    black_box_steps: generator steps of the black-box attacker's WGAN-GP.
    black_box_width: base filters of its generator and critic.
    num_reconstructions: images per reconstruction grid (and per leakage
      measurement).
    leakage_metrics: at the end, score the attackers' reconstructions (and
      the victim's shared X') against the victim's real target-class images
      (`antigan_tf.metrics`); writes leakage.json.
    central_riafi_epochs: at the end, also train a fresh classifier for this
      many epochs centrally on the union of the clients' data as the
      federation sees it (the victim's X' in place of X) and measure it on the
      real test set (`metrics.central_riafi`: the paper's RIAFI protocol,
      free of the federation's non-IID dynamics); writes utility.json. 0: off.
    oracle_dir: cache of the leakage oracle (a classifier trained once per
      dataset on its real training set); default $ANTIGAN_TF_CACHE_DIR/oracles
      or ~/.cache/antigan_tf/oracles.
    oracle_epochs: training epochs of the oracle.
    oracle_max_train_examples: train the oracle on the first N training
      images only (quick runs).
    seed: seed of partition, sampling, shuffling, model init and attacks.
    checkpoint_every_n_rounds: save the program state every N rounds (and
      at the last round).
    keep_checkpoints: checkpoints kept (the newest ones).
    overwrite: delete the outputs of an earlier run in `output_dir` first.
    tff_workers: local TFF worker processes to start; with more than one,
      the clients of each round are split over them (TFF's mergeable
      computations). The results match one worker's to float32 summation order.
    tff_worker_addresses: 'host:port' of TFF workers already running (each
      started with `bin/tff_worker --port=P`), used instead of local ones.
      They must read the run's `client_store/` at the same path (a shared
      filesystem). Non-loopback hosts need `allow_remote_workers`.
    allow_remote_workers: accept non-loopback `tff_worker_addresses`; TFF
      workers speak plaintext, unauthenticated gRPC (README, security).
    progress: progress bars.

  Returns:
    A `FederatedResult`.

  Raises:
    ValueError: any inconsistent argument (named in the message), an
      unwritable `output_dir`, or one that holds another configuration's run.
    CheckpointError: an unreadable checkpoint (nothing is deleted).
    WorkerLostError: a TFF worker died or became unreachable mid-run; the
      message names it and the checkpoint a re-run resumes from.
    TimeoutError: a TFF worker never became ready.
    DatasetNotFoundError: the dataset is not available offline.
  """
  hparams = collections.OrderedDict(sorted(locals().items()))
  config = _defender_config(defender_config)
  del hparams['defender_config']  # Recorded field by field instead.
  for name, value in config.to_dict().items():
    hparams[f'defender_{name}'] = value if defense == 'anti_gan' else None
  hparams['victim_transform'] = (
      None if victim_transform is None else victim_lib.describe(victim_transform))
  hparams['attacks'] = ','.join(attacks)

  # --- Validation: every bad argument fails here, before any work. ---
  if not output_dir:
    raise ValueError('`output_dir` is required.')
  rounds = checks.check_int(rounds, 'rounds', 1)
  num_clients = checks.check_int(num_clients, 'num_clients', 1)
  clients_per_round = checks.check_int(clients_per_round, 'clients_per_round', 1)
  if clients_per_round > num_clients:
    raise ValueError(
        f'`clients_per_round` ({clients_per_round}) must not exceed `num_clients` '
        f'({num_clients}).')
  local_epochs = checks.check_int(local_epochs, 'local_epochs', 1)
  batch_size = checks.check_int(batch_size, 'batch_size', 1)
  checks.check_positive_float(client_learning_rate, 'client_learning_rate')
  checks.check_positive_float(server_learning_rate, 'server_learning_rate')
  if max_test_examples is not None:
    checks.check_int(max_test_examples, 'max_test_examples', 1)
  if defense not in DEFENSES:
    raise ValueError(f'`defense` must be one of {DEFENSES}, got {defense!r}.')
  if defense == 'anti_gan' and victim_transform is not None:
    raise ValueError("Pass either defense='anti_gan' or a `victim_transform`, not both.")
  if victim_transform is not None and not callable(victim_transform):
    raise ValueError(f'`victim_transform` must be callable, got {victim_transform!r}.')
  if defense == 'dp':
    checks.check_non_negative_float(dp_noise_multiplier, 'dp_noise_multiplier')
    if dp_clip_norm is not None:
      checks.check_positive_float(dp_clip_norm, 'dp_clip_norm')
  if isinstance(attacks, str):
    attacks = tuple(a for a in attacks.split(',') if a)
  attacks = tuple(attacks)
  unknown = sorted(set(attacks) - set(ATTACKS))
  if unknown:
    raise ValueError(f'Unknown attack(s) {unknown}; choose from {ATTACKS}.')
  adversary_classes = tuple(int(c) for c in adversary_classes)
  if attack_fake_label is None:
    attack_fake_label = adversary_classes[-1]
  if 'gan' in attacks:
    if attack_fake_label == target_class:
      raise ValueError(
          f'`attack_fake_label` ({attack_fake_label}) must differ from `target_class`.')
    if attack_fake_label not in adversary_classes:
      raise ValueError(
          f'`attack_fake_label` ({attack_fake_label}) must be one of the adversary\'s '
          f'classes {adversary_classes} (Hitaj et al.: a class the adversary owns).')
    checks.check_int(attack_start_round, 'attack_start_round', 1)
    if attack_start_accuracy is not None and not 0 <= attack_start_accuracy <= 1:
      raise ValueError(
          f'`attack_start_accuracy` must be in [0, 1], got {attack_start_accuracy!r}.')
    checks.check_int(attack_generator_steps, 'attack_generator_steps', 1)
    checks.check_int(attack_num_images, 'attack_num_images', 0)
    checks.check_int(attack_grid_every_n_rounds, 'attack_grid_every_n_rounds', 1)
  if 'black_box' in attacks:
    checks.check_int(black_box_steps, 'black_box_steps', 1)
    checks.check_int(black_box_width, 'black_box_width', 1)
  checks.check_int(num_reconstructions, 'num_reconstructions', 2 if leakage_metrics else 1)
  central_riafi_epochs = checks.check_int(central_riafi_epochs, 'central_riafi_epochs', 0)
  if leakage_metrics:
    checks.check_int(oracle_epochs, 'oracle_epochs', 1)
    if oracle_max_train_examples is not None:
      checks.check_int(oracle_max_train_examples, 'oracle_max_train_examples', 1)
  checkpoint_every_n_rounds = checks.check_int(checkpoint_every_n_rounds, 'checkpoint_every_n_rounds', 1)
  tff_workers = checks.check_int(tff_workers, 'tff_workers', 1)
  if tff_worker_addresses and tff_workers != 1:
    raise ValueError(
        'Pass either `tff_workers` (local workers) or `tff_worker_addresses` (running '
        f'workers), not both (got {tff_workers} and {tff_worker_addresses!r}).')
  # Built (and its addresses checked) now; nothing starts before `with`.
  runtime = runtime_lib.ManagedRuntime(
      num_workers=None if tff_worker_addresses else tff_workers,
      worker_addresses=tff_worker_addresses or None,
      allow_remote_workers=allow_remote_workers)
  hparams['tff_worker_addresses'] = ','.join(runtime.worker_addresses or ())
  keep_checkpoints = checks.check_int(keep_checkpoints, 'keep_checkpoints', 1)

  train = sources.load_dataset(dataset, split='train', data_dir=data_dir)
  test = sources.load_dataset(dataset, split='test', data_dir=data_dir)
  partition = partition_lib.partition_clients(
      train.y,
      num_classes=train.num_classes,
      num_clients=num_clients,
      target_class=target_class,
      adversary_classes=adversary_classes,
      victim_shared_class=victim_shared_class,
      honest_distribution=honest_distribution,
      dirichlet_alpha=dirichlet_alpha,
      max_examples_per_client=max_examples_per_client,
      seed=seed,
  )
  image_shape = tuple(train.x.shape[1:])
  num_classes = train.num_classes

  output_dir = os.path.abspath(os.fspath(output_dir))
  _check_writable(output_dir)
  _check_existing_run(output_dir, hparams, overwrite)
  write_hparams_csv(os.path.join(output_dir, HPARAMS_FILE), hparams)

  logging.info(devices.training_devices_line())

  # --- The victim's hook, once, outside TFF (cached). ---
  clients = {cid: partition.client_arrays(cid, train.x, train.y) for cid in partition.client_ids}
  victim_id = partition.victim_id
  real_x_v, real_y_v = clients[victim_id]
  victim_dir = os.path.join(output_dir, 'victim')
  # What a defense hides: next to shared_target_class.png when there is one.
  monitoring.save_image_grid(real_x_v[real_y_v == target_class][:num_reconstructions],
                             os.path.join(victim_dir, REAL_TARGET_GRID))
  if defense == 'anti_gan':
    _log_phase('Anti-GAN defender on the victim\'s class %d', target_class)
    victim_transform = victim_lib.anti_gan_transform(
        config, protected_classes=[target_class],
        work_dir=os.path.join(victim_dir, 'defender'), progress=progress)
  if victim_transform is not None:
    x_v, y_v = clients[victim_id]
    shared_x, shared_y, _ = victim_lib.apply_cached(
        victim_transform, x_v, y_v, cache_path=os.path.join(victim_dir, 'shared.npz'))
    clients[victim_id] = (shared_x, shared_y)
    monitoring.save_image_grid(
        shared_x[shared_y == target_class][:num_reconstructions],
        os.path.join(victim_dir, 'shared_target_class.png'))

  attack_dir = os.path.join(output_dir, 'attack')
  if 'black_box' in attacks:
    _log_phase('black-box attacker: %d WGAN-GP steps', black_box_steps)
    _black_box_attack(
        clients[victim_id], target_class=target_class, out_dir=os.path.join(attack_dir, 'black_box'),
        steps=black_box_steps, width=black_box_width, num_reconstructions=num_reconstructions,
        seed=seed,
        progress=progress)

  store_fingerprint = array_fingerprint(*clients[victim_id], note=partition.fingerprint())
  store = _prepare_store(os.path.join(output_dir, 'client_store'), clients, store_fingerprint)

  test_x, test_y = test.x, test.y
  if max_test_examples is not None:
    test_x, test_y = test_x[:max_test_examples], test_y[:max_test_examples]

  attacker = None
  if 'gan' in attacks:
    attacker = _Attacker(
        image_shape=image_shape, num_classes=num_classes, target_class=target_class,
        fake_label=attack_fake_label, latent_dim=attack_latent_dim,
        generator_width=attack_generator_width, learning_rate=attack_learning_rate,
        batch_size=attack_batch_size, seed=seed, steps=attack_generator_steps,
        num_images=attack_num_images, start_round=attack_start_round,
        start_accuracy=attack_start_accuracy)

  model_fn = processes.build_model_fn(image_shape, num_classes)
  preprocess = client_data_lib.build_preprocess_fn(
      batch_size=batch_size, local_epochs=local_epochs, seed=seed)
  client_data = client_data_lib.build_client_data(store).preprocess(preprocess)
  process = client_data_lib.compose_with_dataset_computation(
      client_data,
      processes.build_learning_process(
          model_fn,
          client_learning_rate=client_learning_rate,
          server_learning_rate=server_learning_rate,
          aggregation='dp' if defense == 'dp' else 'weighted_mean',
          clients_per_round=clients_per_round,
          dp_noise_multiplier=dp_noise_multiplier,
          dp_clip_norm=dp_clip_norm,
      ),
  )
  eval_model = models.build_classifier(image_shape, num_classes)
  state_manager = tff.program.FileProgramStateManager(
      os.path.join(output_dir, STATE_DIR), keep_total=keep_checkpoints, keep_first=False)
  metrics_manager = tff.program.CSVFileReleaseManager(
      os.path.join(output_dir, METRICS_FILE), key_fieldname=ROUND_KEY)
  tensorboard_manager = tff.program.TensorBoardReleaseManager(
      os.path.join(output_dir, 'tensorboard'))

  history = []
  with runtime, _resume_hint_on_lost_worker(state_manager, output_dir):
    state = process.initialize()
    state = process.set_model_weights(
        state, processes.initial_model_weights(image_shape, num_classes, seed=seed))
    program_state = _program_state(state, attacker, round_num=0, attack_started=0,
                                   last_accuracy=-1.0)
    loaded, version = _load_checkpoint(state_manager, program_state, output_dir)
    start_round = 0
    if loaded is not None:
      program_state, start_round = loaded, int(version)
      _log_phase('resuming from the checkpoint of round %d', start_round)
      if attacker is not None:
        attacker.gan.set_state(list(program_state['attacker']))
    state = program_state['learning']
    attack_started = int(program_state['attack_started'])
    last_accuracy = float(program_state['last_accuracy'])
    last_accuracy = None if last_accuracy < 0 else last_accuracy
    process.get_model_weights(state).assign_weights_to(eval_model)

    bar = tqdm.tqdm(range(start_round + 1, rounds + 1), desc='FedAvg rounds', unit='round',
                    initial=start_round, total=rounds, disable=not progress)
    for round_num in bar:
      _log_phase('FedAvg round %d/%d', round_num, rounds)
      start = time.monotonic()
      sampled = processes.sample_clients(
          store.client_ids, clients_per_round, seed=seed, round_num=round_num)
      row = collections.OrderedDict()
      participants = list(sampled)
      attack_seconds = float('nan')
      if attacker is not None:
        if not attack_started and attacker.should_start(round_num, last_accuracy):
          attack_started = round_num
        active = bool(attack_started) and partition.adversary_id in sampled
        row['attack_active'] = int(active)
        row['attack_generator_loss'] = float('nan')
        row['attack_target_confidence'] = float('nan')
        if active:
          attack_start = time.monotonic()
          # eval_model holds the current global model: the discriminator.
          stats = attacker.gan.train_generator(eval_model, steps=attacker.steps, round_num=round_num)
          row['attack_generator_loss'] = float(stats['generator_loss'])
          row['attack_target_confidence'] = float(stats['target_confidence'])
          if attacker.num_images > 0:
            x_a, y_a = clients[partition.adversary_id]
            x_inj, y_inj = attacker.gan.inject(
                x_a, y_a, num_images=attacker.num_images, round_num=round_num)
            store.write_transient_client(_INJECTED_CLIENT, x_inj, y_inj)
            participants[participants.index(partition.adversary_id)] = _INJECTED_CLIENT
          attack_seconds = time.monotonic() - attack_start
        row['attack_seconds'] = attack_seconds
      output = process.next(state, participants)
      state = output.state
      process.get_model_weights(state).assign_weights_to(eval_model)
      row.update(processes.round_metrics(output.metrics))
      row.update(evaluate_classifier(
          eval_model, test_x, test_y, num_classes=num_classes, target_class=target_class))
      row['victim_sampled'] = int(victim_id in sampled)
      row['adversary_sampled'] = int(partition.adversary_id in sampled)
      row['round_seconds'] = time.monotonic() - start
      _run_sync(metrics_manager.release(row, key=round_num))
      _run_sync(tensorboard_manager.release(row, key=round_num))
      history.append(collections.OrderedDict([(ROUND_KEY, round_num), *row.items()]))
      last_accuracy = row['test_accuracy']
      if attacker is not None and (round_num % attack_grid_every_n_rounds == 0 or round_num == rounds):
        _save_reconstructions(attacker.gan, num_reconstructions,
                              os.path.join(attack_dir, 'gan'), round_num)
      if round_num % checkpoint_every_n_rounds == 0 or round_num == rounds:
        program_state = _program_state(state, attacker, round_num=round_num,
                                       attack_started=attack_started,
                                       last_accuracy=last_accuracy)
        _run_sync(state_manager.save(program_state, round_num))
      bar.set_postfix(test_acc=f'{row["test_accuracy"]:.3f}', loss=f'{row["train_loss"]:.3f}')
    final_weights = process.get_model_weights(state)
    store.remove_transient_client(_INJECTED_CLIENT)

    final_reconstructions = (
        attacker.gan.reconstructions(num_reconstructions) if attacker is not None else None)

  if central_riafi_epochs:
    _log_phase('central RIAFI: %d epochs', central_riafi_epochs)
    utility = metrics_lib.central_riafi(
        np.concatenate([x for x, _ in clients.values()]),
        np.concatenate([y for _, y in clients.values()]),
        test_x, test_y, target_class=target_class, epochs=central_riafi_epochs, seed=seed)
    io_utils.write_json_atomic(
        os.path.join(output_dir, metrics_lib.UTILITY_FILE),
        collections.OrderedDict((f'central_{k}', v) for k, v in utility.items()),
        sort_keys=False)

  leakage = collections.OrderedDict()
  if leakage_metrics and (attacks or victim_transform is not None):
    _log_phase('leakage metrics (oracle: trained once per dataset, then cached)')
    leakage = _measure_leakage(
        real_target=real_x_v[real_y_v == target_class],
        shared=clients[victim_id] if victim_transform is not None else None,
        gan_reconstructions=final_reconstructions,
        black_box_dir=os.path.join(attack_dir, 'black_box') if 'black_box' in attacks else None,
        target_class=target_class, dataset=dataset, data_dir=data_dir, oracle_dir=oracle_dir,
        oracle_epochs=oracle_epochs, oracle_max_train_examples=oracle_max_train_examples,
        seed=seed, progress=progress)
    io_utils.write_json_atomic(
        os.path.join(output_dir, metrics_lib.LEAKAGE_FILE), leakage, sort_keys=False)
  metrics_lib.write_run_report(output_dir)

  final_metrics = history[-1] if history else _last_released_row(output_dir)
  return FederatedResult(
      final_metrics=final_metrics,
      history=history,
      model_weights=final_weights,
      output_dir=output_dir,
      resumed_from_round=start_round,
      leakage=leakage,
  )


@contextlib.contextmanager
def _resume_hint_on_lost_worker(state_manager, output_dir):
  """Adds to a `WorkerLostError` where a re-run of the same call resumes."""
  try:
    yield
  except workers_lib.WorkerLostError as e:
    try:
      versions = _run_sync(state_manager.get_versions()) or []
    except Exception:  # pylint: disable=broad-except
      versions = []
    where = (f'the checkpoint of round {max(versions)}' if versions
             else 'the start (no round was checkpointed yet)')
    raise workers_lib.WorkerLostError(
        f'{e}\nThe run in {output_dir} stopped. Run the same command again to resume from '
        f'{where}; the workers may differ (--tff_workers, --tff_worker_addresses).',
        address=e.address) from e


def default_oracle_dir() -> str:
  """$ANTIGAN_TF_CACHE_DIR/oracles, or ~/.cache/antigan_tf/oracles."""
  root = os.environ.get('ANTIGAN_TF_CACHE_DIR') or os.path.join(
      os.path.expanduser('~'), '.cache', 'antigan_tf')
  return os.path.join(root, 'oracles')


def _measure_leakage(*, real_target, shared, gan_reconstructions, black_box_dir, target_class,
                     dataset, data_dir, oracle_dir, oracle_epochs, oracle_max_train_examples,
                     seed, progress):
  """Leakage of each attacker's reconstructions, and of the shared X'."""
  oracle = metrics_lib.load_or_train_oracle(
      oracle_dir or default_oracle_dir(), dataset=dataset, data_dir=data_dir,
      epochs=oracle_epochs, seed=seed, max_train_examples=oracle_max_train_examples,
      progress=progress)
  leakage = collections.OrderedDict()
  if gan_reconstructions is not None:
    leakage['gan_adversary'] = metrics_lib.leakage_report(
        gan_reconstructions, real_target, oracle=oracle, target_class=target_class)
  if black_box_dir is not None:
    with np.load(os.path.join(black_box_dir, 'reconstructions.npz')) as cached:
      leakage['black_box'] = metrics_lib.leakage_report(
          cached['x'], real_target, oracle=oracle, target_class=target_class)
  if shared is not None:
    shared_x, shared_y = shared
    leakage['victim_shared'] = metrics_lib.defended_data_report(
        shared_x[shared_y == target_class], real_target)
  return leakage


def _program_state(state, attacker, *, round_num, attack_started, last_accuracy):
  return collections.OrderedDict(
      learning=state,
      round=np.int64(round_num),
      attack_started=np.int64(attack_started),
      last_accuracy=np.float64(last_accuracy),
      attacker=[] if attacker is None else attacker.gan.get_state(),
  )


def _load_checkpoint(state_manager, structure, output_dir):
  try:
    return _run_sync(state_manager.load_latest(structure))
  except Exception as e:  # pylint: disable=broad-except
    raise CheckpointError(
        f'The checkpoint in {os.path.join(output_dir, STATE_DIR)!r} cannot be loaded '
        f'({type(e).__name__}: {e}). Nothing was deleted; move it away or pass '
        '`overwrite=True` (--overwrite) to start over.') from e


def _last_released_row(output_dir: str) -> Mapping[str, Any]:
  rows = read_csv_rows(os.path.join(output_dir, METRICS_FILE))[1]
  return rows[-1] if rows else {}


def _save_reconstructions(gan_attacker, num_images, out_dir, round_num):
  os.makedirs(out_dir, exist_ok=True)
  images = gan_attacker.reconstructions(num_images)
  monitoring.save_image_grid(images, os.path.join(out_dir, f'round_{round_num:05d}.png'))
  io_utils.savez_atomic(os.path.join(out_dir, 'latest.npz'), x=images, round=np.int64(round_num))


def _black_box_attack(victim_data, *, target_class, out_dir, steps, width, num_reconstructions,
                      seed, progress):
  """The paper's stronger attacker: a WGAN-GP on what the victim shares."""
  x, y = victim_data
  images = x[y == target_class]
  key = array_fingerprint(
      images, note=f'steps={steps},width={width},seed={seed},n={num_reconstructions}')
  npz_path = os.path.join(out_dir, 'reconstructions.npz')
  if os.path.exists(npz_path):
    with np.load(npz_path) as cached:
      if str(cached['key']) == key:
        return
  result = attack_lib.train_black_box_attacker(
      images, steps=steps, width=width, seed=seed, num_reconstructions=num_reconstructions,
      progress=progress)
  os.makedirs(out_dir, exist_ok=True)
  monitoring.save_image_grid(result.reconstructions, os.path.join(out_dir, 'reconstructions.png'))
  io_utils.savez_atomic(npz_path, x=result.reconstructions, key=np.array(key))
