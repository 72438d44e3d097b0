"""A run's set-up: the data, the partition, the victim's hook and the client store.

`load_run_data` loads and partitions (it writes nothing, so a bad partition
fails before the run directory is touched). `share_victim_data` applies the
victim's hook once, outside TFF, cached in the run directory, and
`write_client_store` writes the clients as the federation sees them.
"""

from typing import NamedTuple, Optional

from absl import logging
import numpy as np

from antigan_tf import layout as layout_lib
from antigan_tf.data import client_store as client_store_lib
from antigan_tf.data import partition as partition_lib
from antigan_tf.data import sources
from antigan_tf.federated import config as config_lib
from antigan_tf.federated import victim as victim_lib
from antigan_tf.gan import image_grids
from antigan_tf.utils.fingerprint import array_fingerprint

# Prefix of the log lines that say which stage a run is in (read by sweeps).
PHASE_MARKER = layout_lib.PHASE_MARKER


def log_phase(message: str, *args) -> None:
  logging.info(f'{PHASE_MARKER} {message}', *args)


class RunData(NamedTuple):
  """The data of a run.

  Attributes:
    clients: client id -> (x, y), as the federation sees them (the victim's
      shared data once `share_victim_data` has run).
    partition: the `ClientPartition`.
    image_shape: (H, W, C).
    num_classes: classes of the dataset.
    model_classes: outputs of the global model (`num_classes`, plus one for
      the adversary's extra fake class).
    test_x: the test images the global model is measured on each round (the
      first `max_test_examples`).
    test_y: their labels.
    full_test: the whole test split (`ImageDataset`): the held-out images of
      the leakage metrics.
    real_target: the victim's real images of the target class.
    shared: the victim's shared (x, y) after its hook, or None without one.
  """

  clients: dict
  partition: partition_lib.ClientPartition
  image_shape: tuple
  num_classes: int
  model_classes: int
  test_x: np.ndarray
  test_y: np.ndarray
  full_test: sources.ImageDataset
  real_target: np.ndarray
  shared: Optional[tuple] = None

  @property
  def victim_data(self) -> tuple:
    return self.clients[self.partition.victim_id]

  def victim_shares_class(self, label: int) -> bool:
    """Whether the victim's data, as shared, holds an image of `label`
    (not after --defense=drop_class on it)."""
    return bool(np.any(self.victim_data[1] == label))


def load_run_data(experiment: config_lib.ExperimentConfig) -> RunData:
  """Loads the dataset and partitions it into victim, adversary and honest clients.

  With the Hitaj et al. adversary and --attack_fake_class=declared, the
  adversary holds no real images of the class it declares for its fakes.

  Raises:
    ValueError: a partition the data cannot give (named in the message).
    DatasetNotFoundError: the dataset is not available offline.
  """
  config = experiment.federation
  train = sources.load_dataset(config.dataset, split='train', data_dir=config.data_dir,
                               num_classes=config.num_classes)
  # Local data's test split is read with the train split's class count.
  test = sources.load_dataset(
      config.dataset, split='test', data_dir=config.data_dir,
      num_classes=train.num_classes if config.dataset == 'local' else None)
  partition = partition_lib.partition_clients(
      train.y,
      num_classes=train.num_classes,
      num_clients=config.num_clients,
      target_class=config.target_class,
      adversary_classes=config.adversary_classes,
      victim_shared_class=config.victim_shared_class,
      honest_distribution=config.honest_distribution,
      dirichlet_alpha=config.dirichlet_alpha,
      max_examples_per_client=config.max_examples_per_client,
      seed=config.seed,
  )
  clients = {cid: partition.client_arrays(cid, train.x, train.y) for cid in partition.client_ids}
  if 'gan' in experiment.attack.attacks and experiment.attack.attack_fake_class == 'declared':
    x_a, y_a = clients[partition.adversary_id]
    keep = y_a != experiment.fake_label(train.num_classes)
    clients[partition.adversary_id] = (x_a[keep], y_a[keep])
  x_v, y_v = clients[partition.victim_id]
  test_x, test_y = test.x, test.y
  if config.max_test_examples is not None:
    test_x, test_y = test_x[:config.max_test_examples], test_y[:config.max_test_examples]
  return RunData(clients=clients, partition=partition, image_shape=tuple(train.x.shape[1:]),
                 num_classes=train.num_classes,
                 model_classes=experiment.model_classes(train.num_classes), test_x=test_x, test_y=test_y, full_test=test,
                 real_target=x_v[y_v == config.target_class])


def share_victim_data(config: config_lib.ExperimentConfig, data: RunData,
                      layout: layout_lib.RunLayout,
                      victim_transform: Optional[victim_lib.VictimTransform]) -> RunData:
  """Applies the victim's hook (Anti-GAN or a custom one) once, cached.

  Writes the grids of the victim's real and shared target-class images.

  Returns:
    `data` with the victim's shared data in `clients` and `shared`.
  """
  target_class = config.federation.target_class
  count = config.attack.num_reconstructions
  # What a defense hides: next to shared_target_class.png when there is one.
  image_grids.save_image_grid(data.real_target[:count], layout.real_target_grid)
  if config.defense.defense == 'anti_gan':
    log_phase('Anti-GAN defender on the victim\'s class %d', target_class)
    victim_transform = victim_lib.anti_gan_transform(
        config.defense.defender, protected_classes=[target_class],
        work_dir=layout.defender_dir, precision=config.precision, progress=config.progress)
  elif config.defense.defense in config_lib.BASELINE_DEFENSES:
    log_phase('baseline defense %s on the victim\'s class %d', config.defense.defense,
              target_class)
    victim_transform = victim_lib.baseline_transform(
        config.defense.defense, protected_classes=[target_class],
        strength=config.defense.baseline_strength, seed=config.federation.seed)
  if victim_transform is None:
    return data
  x_v, y_v = data.victim_data
  shared_x, shared_y, _ = victim_lib.apply_cached(
      victim_transform, x_v, y_v, cache_path=layout.shared_cache)
  if np.any(shared_y == target_class):
    image_grids.save_image_grid(shared_x[shared_y == target_class][:count],
                               layout.shared_target_grid)
  clients = dict(data.clients)
  clients[data.partition.victim_id] = (shared_x, shared_y)
  return data._replace(clients=clients, shared=(shared_x, shared_y))


def write_client_store(data: RunData,
                       layout: layout_lib.RunLayout) -> client_store_lib.ClientStore:
  """The clients' data on disk for the TFF workers (reused when unchanged)."""
  fingerprint = array_fingerprint(*data.victim_data, note=data.partition.fingerprint())
  try:
    store = client_store_lib.ClientStore(layout.client_store_dir)
    if store.metadata.get('fingerprint') == fingerprint:
      return store
  except (FileNotFoundError, ValueError):
    pass
  return client_store_lib.write_client_store(
      layout.client_store_dir, data.clients, metadata={'fingerprint': fingerprint},
      overwrite=True)
