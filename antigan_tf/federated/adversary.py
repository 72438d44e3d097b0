"""The attackers inside a run: the Hitaj et al. adversarial client, each
round, the black-box attacker on what the victim shares, and the adaptive
attacker that inverts their reconstructions. Plain TF; the federation only
sees the adversary's (poisoned) client data.
"""

import collections
import os
import time
from typing import Optional

import numpy as np
import tensorflow as tf

from antigan_tf import attack as attack_lib
from antigan_tf import layout as layout_lib
from antigan_tf import metrics as metrics_lib
from antigan_tf.attack import adaptive as adaptive_lib
from antigan_tf.data import client_store as client_store_lib
from antigan_tf.federated import config as config_lib
from antigan_tf.federated import run_setup
from antigan_tf.gan import image_grids
from antigan_tf.utils import io as io_utils
from antigan_tf.utils import precision as precision_lib
from antigan_tf.utils.fingerprint import array_fingerprint

# The adversary's data plus its fakes, written for the round it attacks in.
INJECTED_CLIENT = 'adversary.injected'


class RoundAdversary:
  """The Hitaj et al. adversary: it trains a generator against the global
  model each round it is sampled and injects fakes labelled `fake_label`."""

  def __init__(self, config: config_lib.ExperimentConfig, *, image_shape, num_classes: int):
    """`num_classes`: the dataset's classes (the model may have one more)."""
    attack = config.attack
    self.gan = attack_lib.GanAttacker(
        image_shape,
        target_class=config.federation.target_class,
        fake_label=config.fake_label(num_classes),
        num_classes=config.model_classes(num_classes),
        latent_dim=attack.attack_latent_dim,
        generator_width=attack.attack_generator_width,
        upsampling=attack.attack_generator_upsampling,
        prior_weight=attack.attack_prior_weight,
        mode_seeking_weight=attack.attack_mode_seeking_weight,
        precision=config.precision,
        learning_rate=attack.attack_learning_rate,
        batch_size=attack.attack_batch_size,
        seed=config.federation.seed,
    )
    self._config = attack
    self._rounds = config.federation.rounds
    # Samples kept per grid round for the leakage curve (none without metrics).
    evaluation = config.evaluation
    self._curve_samples = evaluation.leakage_samples if evaluation.leakage_metrics else 0
    self.attack_started = 0

  def _should_start(self, round_num: int, last_accuracy: Optional[float]) -> bool:
    if round_num < self._config.attack_start_round:
      return False
    if self._config.attack_start_accuracy is None:
      return True
    return last_accuracy is not None and last_accuracy >= self._config.attack_start_accuracy

  def attack(self, round_num: int, *, sampled, adversary_id: str, adversary_data,
             global_model: tf.keras.Model, last_accuracy: Optional[float],
             store: client_store_lib.ClientStore):
    """One round's attack step.

    Args:
      round_num: the round.
      sampled: the client ids sampled this round.
      adversary_id: the adversary's client id.
      adversary_data: its real (x, y).
      global_model: the current global model (the discriminator).
      last_accuracy: the previous round's test accuracy (None before round 1).
      store: the client store the injected client is written to.

    Returns:
      (participants, metrics row fields): the ids to train this round (the
      adversary replaced by its injected client when it attacks).
    """
    if not self.attack_started and self._should_start(round_num, last_accuracy):
      self.attack_started = round_num
    active = bool(self.attack_started) and adversary_id in sampled
    row = collections.OrderedDict(attack_active=int(active), attack_generator_loss=float('nan'),
                                  attack_target_confidence=float('nan'))
    participants = list(sampled)
    seconds = float('nan')
    if active:
      start = time.monotonic()
      stats = self.gan.train_generator(
          global_model, steps=self._config.attack_generator_steps, round_num=round_num,
          prior_images=adversary_data[0])
      row['attack_generator_loss'] = float(stats['generator_loss'])
      row['attack_target_confidence'] = float(stats['target_confidence'])
      if self._config.attack_num_images > 0:
        x_inj, y_inj = self.gan.inject(*adversary_data, num_images=self._config.attack_num_images,
                                       round_num=round_num)
        store.write_transient_client(INJECTED_CLIENT, x_inj, y_inj)
        participants[participants.index(adversary_id)] = INJECTED_CLIENT
      seconds = time.monotonic() - start
    row['attack_seconds'] = seconds
    return participants, row

  def save_reconstructions(self, layout: layout_lib.RunLayout, round_num: int) -> None:
    """A grid every `attack_grid_every_n_rounds` rounds and at the last one,
    with the samples the leakage curve scores (float16: 0.8 MB per 500)."""
    if round_num % self._config.attack_grid_every_n_rounds and round_num != self._rounds:
      return
    os.makedirs(layout.gan_attack_dir, exist_ok=True)
    images = self.gan.reconstructions(self._config.num_reconstructions)
    image_grids.save_image_grid(images, layout.gan_round_grid(round_num))
    io_utils.savez_atomic(layout.gan_latest_npz, x=images, round=np.int64(round_num))
    if self._curve_samples and self.attack_started:
      io_utils.savez_atomic(layout.gan_round_samples(round_num),
                            x=self.reconstructions(self._curve_samples).astype(np.float16))

  def reconstructions(self, count: int) -> np.ndarray:
    """`count` images of the generator for a fixed z (the grids' first ones)."""
    return self.gan.reconstructions(count)


def run_black_box_attack(config: config_lib.ExperimentConfig, victim_data,
                         layout: layout_lib.RunLayout) -> None:
  """The paper's stronger attacker: a WGAN-GP on what the victim shares (cached)."""
  attack, target_class = config.attack, config.federation.target_class
  x, y = victim_data
  images = x[y == target_class]
  # The grid shows the first `num_reconstructions`; the metrics take them all.
  count = max(attack.num_reconstructions, config.evaluation.leakage_samples)
  key = array_fingerprint(
      images, note=(f'steps={attack.black_box_steps},width={attack.black_box_width},'
                    f'lr={attack.black_box_learning_rate},betas={attack.black_box_beta_1},'
                    f'{attack.black_box_beta_2},seed={config.federation.seed},n={count},'
                    f'precision={precision_lib.resolve(config.precision)}'))
  if io_utils.load_keyed_npz(layout.black_box_npz, key) is not None:
    return
  # Runs that share the same images and settings (an undefended and a DP-FedAvg
  # run of one seed) train the attacker once.
  shared_cache = layout_lib.CacheLayout(config.evaluation.cache_dir).black_box_npz(key)
  cached = io_utils.load_keyed_npz(shared_cache, key)
  samples = None if cached is None else cached['x']
  if samples is None:
    samples = attack_lib.train_black_box_attacker(
        images, steps=attack.black_box_steps, width=attack.black_box_width,
        learning_rate=attack.black_box_learning_rate, beta_1=attack.black_box_beta_1,
        beta_2=attack.black_box_beta_2, precision=config.precision,
        seed=config.federation.seed, num_reconstructions=count,
        progress=config.progress).reconstructions
    os.makedirs(os.path.dirname(shared_cache), exist_ok=True)
    io_utils.savez_atomic(shared_cache, x=samples, key=np.array(key))
  os.makedirs(layout.black_box_dir, exist_ok=True)
  image_grids.save_image_grid(samples[:attack.num_reconstructions], layout.black_box_grid)
  io_utils.savez_atomic(layout.black_box_npz, x=samples, key=np.array(key))


# The attackers whose samples the adaptive attacker inverts, as named in
# leakage.json; its rows there are 'adaptive_<source>'.
ADAPTIVE_SOURCES = ('gan_adversary', 'black_box', 'victim_shared')
ADAPTIVE_PREFIX = 'adaptive_'


def adaptive_trains(config: config_lib.ExperimentConfig) -> bool:
  """Whether the run's defense gives the adaptive attacker pairs to learn
  from: not one that shares the real images, nor drop_class."""
  defense = config.defense.defense
  return defense not in config_lib.SHARES_REAL_IMAGES and defense != 'drop_class'


def _adaptive_sources(config, data: run_setup.RunData, layout: layout_lib.RunLayout,
                      gan_reconstructions) -> dict:
  """Name -> the samples to invert: the other attackers' reconstructions,
  and the generated part of what the victim shares of the class (X')."""
  sources = {}
  if gan_reconstructions is not None:
    sources['gan_adversary'] = np.asarray(gan_reconstructions, np.float32)
  target_class = config.federation.target_class
  if 'black_box' in config.attack.attacks and data.victim_shares_class(target_class):
    with np.load(layout.black_box_npz) as cached:
      sources['black_box'] = cached['x']
  if data.shared is not None:
    shared_x, shared_y = data.shared
    generated, _ = metrics_lib.split_real_copies(shared_x[shared_y == target_class],
                                                 data.real_target)
    if len(generated):
      sources['victim_shared'] = generated
  return sources


def _adaptive_pairs(config: config_lib.ExperimentConfig, own, layout: layout_lib.RunLayout):
  """The victim's defense, with its settings, on the adversary's own images."""
  defense = config.defense
  if defense.defense == 'anti_gan':
    return adaptive_lib.anti_gan_pairs(defense.defender, *own, precision=config.precision,
                                       work_dir=layout.adaptive_defender_dir,
                                       progress=config.progress)
  return adaptive_lib.baseline_pairs(defense.defense, *own, strength=defense.baseline_strength,
                                     seed=config.federation.seed)


def run_adaptive_attack(config: config_lib.ExperimentConfig, data: run_setup.RunData,
                        layout: layout_lib.RunLayout, gan_reconstructions) -> None:
  """The adaptive attacker (cached): the defense on its own images, an
  inversion network trained on the pairs, and each source's samples inverted.

  Writes attack/adaptive/ (`RunLayout.adaptive_*`). A defense that shares
  the real images, or none of the class, trains nothing
  (`adaptive_trains`); `evaluation` says so in leakage.json.
  """
  if not adaptive_trains(config):
    return
  attack = config.attack
  own = data.clients[data.partition.adversary_id]
  sources = _adaptive_sources(config, data, layout, gan_reconstructions)
  key = array_fingerprint(
      *own, *sources.values(), note=(f'{config.defense!r},{attack!r},seed='
                                     f'{config.federation.seed},sources={",".join(sources)},'
                                     f'precision={precision_lib.resolve(config.precision)}'))
  if io_utils.load_keyed_npz(layout.adaptive_npz, key) is not None:
    return
  run_setup.log_phase('adaptive attacker: %s on its own %d images, then %d inversion steps',
                      config.defense.defense, len(own[0]), attack.adaptive_steps)
  os.makedirs(layout.adaptive_dir, exist_ok=True)
  defended, originals = _adaptive_pairs(config, own, layout)
  result = adaptive_lib.train_inversion_network(
      defended, originals, steps=attack.adaptive_steps, batch_size=attack.adaptive_batch_size,
      width=attack.adaptive_width, learning_rate=attack.adaptive_learning_rate,
      seed=config.federation.seed, precision=config.precision, progress=config.progress)
  count = attack.num_reconstructions
  # The same images of each kind of pair: what it learns from.
  shown = np.random.default_rng(0).permutation(len(defended))[:count]
  image_grids.save_image_grid(defended[shown], layout.adaptive_pairs_grid('defended'))
  image_grids.save_image_grid(originals[shown], layout.adaptive_pairs_grid('original'))
  inverted = {}
  for name, samples in sources.items():
    inverted[name] = adaptive_lib.invert(result.network, samples)
    image_grids.save_image_grid(samples[:count], layout.adaptive_grid(name, 'before'))
    image_grids.save_image_grid(inverted[name][:count], layout.adaptive_grid(name, 'after'))
  history = result.history
  io_utils.write_csv_rows(layout.adaptive_losses_csv, [
      {name: values[i] for name, values in history.items()} for i in range(len(history['step']))])
  validation = {f'inversion_{k}': np.float64(v) for k, v in result.validation.items()}
  io_utils.savez_atomic(layout.adaptive_npz, key=np.array(key), sources=np.array(list(sources)),
                        **validation, **{f'inverted_{k}': v for k, v in inverted.items()})
