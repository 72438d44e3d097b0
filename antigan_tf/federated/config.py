"""The settings of a federated experiment (`run_federated`, `bin/run_tff`),
each declared once. Plain Python: no TensorFlow, no TFF.

`ExperimentConfig` groups them: the federation, the defense (with the
defender's `DefenderConfig` as `--defender_*`), the attacks, the evaluation
and the TFF workers. Flag names are the field names; `ExperimentConfig.from_flat`
builds one from flag-named values, as `bin/run_tff` does, and every error
names the flag. Building a config checks each value and the rules between
them, so `run_federated` fails before it loads data or writes a file.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any, Optional

from antigan_tf.defense.config import BASELINE_DEFENSES
from antigan_tf.defense.config import BASELINE_STRENGTHS
from antigan_tf.defense.config import DATASETS
from antigan_tf.defense.config import DefenderConfig
from antigan_tf.utils import checks
from antigan_tf.utils import settings
from antigan_tf.utils.precision import precision_setting
from antigan_tf.utils.settings import SettingError
from antigan_tf.utils.settings import nested
from antigan_tf.utils.settings import setting

DEFENSES = ('none', 'anti_gan', 'dp', *BASELINE_DEFENSES)
ATTACKS = ('gan', 'black_box', 'adaptive')
# Defenses that share the real images (DP-FedAvg acts on the protocol): they
# give the adaptive attacker pairs (x, x), so it is the black-box attacker.
SHARES_REAL_IMAGES = ('none', 'dp')
# How the Hitaj et al. adversary labels its fakes: an output class of its own
# (the global model gets one more output, which no client holds real data
# of), a class it declares but holds no real data of (Hitaj et al.), or one of
# the classes it holds real data of.
FAKE_CLASSES = ('extra', 'declared', 'owned')
GENERATOR_UPSAMPLINGS = ('resize', 'transposed')
HONEST_DISTRIBUTIONS = ('iid', 'dirichlet')
DEFENDER_FLAG_PREFIX = 'defender_'

_POSITIVE_INT = checks.integer(1)
_NON_NEGATIVE_INT = checks.integer(0)
_POSITIVE = checks.number(0, open_minimum=True)
_OPTIONAL_POSITIVE_INT = checks.optional(_POSITIVE_INT)
_ADAM_BETA = checks.number(0, 1, open_maximum=True)


def _flag_error(flag: str, problem: str) -> SettingError:
  return SettingError(f'--{flag}', problem, renamed=True)


@dataclasses.dataclass(frozen=True)
class FederationConfig:
  """The data, the clients and FedAvg."""

  dataset: str = setting(
      'fashion_mnist', 'Dataset to federate; "local" reads --data_dir.',
      checks.one_of(DATASETS), choices=DATASETS)
  data_dir: Optional[str] = setting(
      None, 'Directory searched first for the dataset files (IDX, .npz or CIFAR batches).',
      checks.text())
  num_classes: Optional[int] = setting(
      None, 'With --dataset=local: the number of classes (labels in [0, N)). Default: the '
      'largest training label + 1, with an image of every label below it.',
      checks.optional(checks.integer(2)))
  num_clients: int = setting(
      10, 'K: total clients (victim, adversary and honest ones).', _POSITIVE_INT)
  clients_per_round: int = setting(
      10, 'Clients sampled without replacement each round.', _POSITIVE_INT)
  rounds: int = setting(
      5, 'Total FedAvg rounds (a resumed run continues up to it).', _POSITIVE_INT,
      resumable=True)
  local_epochs: int = setting(1, 'Local epochs per round.', _POSITIVE_INT)
  batch_size: int = setting(32, 'Local batch size.', _POSITIVE_INT)
  client_learning_rate: float = setting(0.05, 'Client SGD learning rate.', _POSITIVE)
  server_learning_rate: float = setting(
      1.0, 'Server SGD learning rate (1.0 = plain averaging).', _POSITIVE)
  target_class: int = setting(
      6, 'Class a, held only by the victim: the attackers\' target.', _NON_NEGATIVE_INT)
  adversary_classes: tuple[int, ...] = setting(
      (0, 1), 'The adversary\'s two classes b,c, e.g. 0,1.',
      checks.each(checks.int_item, unique=True))
  victim_shared_class: Optional[int] = setting(
      None, 'Optional second class the victim declares (shared with b).',
      checks.optional(_NON_NEGATIVE_INT))
  honest_distribution: str = setting(
      'iid', 'How the remaining classes are spread over honest clients.',
      checks.one_of(HONEST_DISTRIBUTIONS), choices=HONEST_DISTRIBUTIONS)
  dirichlet_alpha: float = setting(
      0.5, 'Dirichlet concentration for --honest_distribution=dirichlet.', _POSITIVE)
  max_examples_per_client: Optional[int] = setting(
      None, 'Cap on examples per client (quick runs).', _OPTIONAL_POSITIVE_INT)
  max_test_examples: Optional[int] = setting(
      None, 'Evaluate on the first N test examples only.', _OPTIONAL_POSITIVE_INT)
  seed: int = setting(
      0, 'Seed of partition, sampling, shuffling, init and attacks.', _NON_NEGATIVE_INT)
  checkpoint_every_n_rounds: int = setting(
      1, 'Checkpoint every N rounds (and at the end).', _POSITIVE_INT)
  keep_checkpoints: int = setting(3, 'Newest checkpoints kept.', _POSITIVE_INT)

  def __post_init__(self):
    settings.check_settings(self)
    if self.num_classes is not None and self.dataset != 'local':
      raise _flag_error('num_classes', f'applies to --dataset=local only (got --dataset='
                        f'{self.dataset}).')
    if self.clients_per_round > self.num_clients:
      raise _flag_error('clients_per_round', f'({self.clients_per_round}) must not exceed '
                        f'--num_clients ({self.num_clients}).')
    if self.target_class in self.adversary_classes:
      raise _flag_error('adversary_classes', f'{list(self.adversary_classes)} must not hold '
                        f'the victim\'s target class (--target_class={self.target_class}).')


@dataclasses.dataclass(frozen=True)
class DefenseConfig:
  """What the victim does: nothing, Anti-GAN (`--defender_*`) or DP-FedAvg (`--dp_*`)."""

  defense: str = setting(
      'none', 'none; anti_gan: the victim shares Anti-GAN images (see --defender_*); dp: '
      'DP-FedAvg with TFF\'s DP aggregator (see --dp_*); baselines on the victim\'s '
      'target-class images: gaussian_blur, gaussian_noise, pixelate (see their strength '
      'flags) and drop_class (the victim shares none of them).',
      checks.one_of(DEFENSES), choices=DEFENSES)
  gaussian_blur_sigma: float = setting(
      1.0, 'gaussian_blur: the Gaussian\'s standard deviation, in pixels.', _POSITIVE)
  gaussian_noise_std: float = setting(
      0.5, 'gaussian_noise: the pixel noise\'s standard deviation (pixels in [-1, 1]; '
      'clipped after).', _POSITIVE)
  pixelate_block: int = setting(
      4, 'pixelate: the block size in pixels (2 to 14); each block becomes its mean.',
      checks.integer(2, 14))
  dp_noise_multiplier: float = setting(
      1.0, 'DP-FedAvg: noise standard deviation / clipping norm.', checks.number(0))
  dp_clip_norm: Optional[float] = setting(
      None, 'DP-FedAvg: fixed L2 clipping norm; unset = adaptive clipping.',
      checks.optional(_POSITIVE))
  defender: DefenderConfig = nested(DefenderConfig, flag_prefix=DEFENDER_FLAG_PREFIX,
                                    help_prefix='Anti-GAN (--defense=anti_gan): ')

  def __post_init__(self):
    settings.check_settings(self)
    if self.defense != 'dp':
      for field in ('dp_noise_multiplier', 'dp_clip_norm'):
        if getattr(self, field) != _DEFAULTS[field]:
          raise _flag_error(field, f'applies to --defense=dp only (got --defense='
                            f'{self.defense}).')
    for defense, field in BASELINE_STRENGTHS.items():
      if self.defense != defense and getattr(self, field) != _DEFAULTS[field]:
        raise _flag_error(field, f'applies to --defense={defense} only (got --defense='
                          f'{self.defense}).')
    if (self.defense == 'anti_gan' and self.defender.mix_mode == 'add'
        and self.defender.mix_ratio > 1):
      # X' has one image per private image, and mixing draws the real ones
      # from the same private images: at most as many real as generated.
      raise _flag_error(f'{DEFENDER_FLAG_PREFIX}mix_ratio', f'must be <= 1 (MR = #real / '
                        f'#generated, and X\' has one image per private image) with '
                        f'--{DEFENDER_FLAG_PREFIX}mix_mode=add, got '
                        f'{self.defender.mix_ratio:g}.')


  @property
  def baseline_strength(self):
    """The strength setting of the chosen baseline defense, else None."""
    field = BASELINE_STRENGTHS.get(self.defense)
    return None if field is None else getattr(self, field)


@dataclasses.dataclass(frozen=True)
class AttackConfig:
  """The attackers: the Hitaj et al. adversarial client, the black-box WGAN-GP and the
  adaptive attacker that inverts their reconstructions."""

  attacks: tuple[str, ...] = setting(
      (), 'Comma-separated attacks: gan (the Hitaj et al. adversarial client, each round), '
      'black_box (a WGAN-GP trained on what the victim shares) and adaptive (knows the '
      'defense: runs it on its own classes and inverts the others\' reconstructions; needs '
      'gan or black_box).',
      checks.each(checks.string_item, unique=True, choices=ATTACKS))
  attack_fake_class: str = setting(
      'extra', 'How the adversary labels its fakes: extra (an output class of its own, as '
      'public reproductions do), declared (its class c, of which it holds no real data: Hitaj '
      'et al.) or owned (its class c, real images included).',
      checks.one_of(FAKE_CLASSES), choices=FAKE_CLASSES)
  attack_fake_label: Optional[int] = setting(
      None, 'Class c given to the adversary\'s fakes with --attack_fake_class=declared or '
      'owned; default its second class.',
      checks.optional(_NON_NEGATIVE_INT))
  attack_start_round: int = setting(1, 'First round the adversary attacks.', _POSITIVE_INT)
  attack_start_accuracy: Optional[float] = setting(
      None, 'If set, the adversary also waits until the global test accuracy reaches it.',
      checks.optional(checks.number(0, 1)))
  attack_generator_steps: int = setting(
      50, 'Adversary generator steps per round.', _POSITIVE_INT)
  attack_num_images: int = setting(
      100, 'Fakes injected into the adversary\'s data per round.', _NON_NEGATIVE_INT)
  attack_batch_size: int = setting(64, 'Adversary generator batch size.', _POSITIVE_INT)
  attack_learning_rate: float = setting(
      2e-4, 'Adversary generator Adam learning rate.', _POSITIVE)
  attack_latent_dim: int = setting(100, 'Adversary latent size.', _POSITIVE_INT)
  attack_generator_width: int = setting(
      64, 'Adversary generator base filters.', _POSITIVE_INT)
  attack_generator_upsampling: str = setting(
      'resize', 'Adversary generator upsampling: resize (nearest-neighbour resize then a '
      'convolution, no checkerboards; Odena et al., 2016) or transposed (DCGAN).',
      checks.one_of(GENERATOR_UPSAMPLINGS), choices=GENERATOR_UPSAMPLINGS)
  attack_prior_weight: float = setting(
      0.0, 'Weight of an image prior on the adversary\'s generator: a WGAN-GP critic trained '
      'on its own real images (beyond Hitaj et al.: their generator sees only the global '
      'model and draws adversarial noise). 0 = Hitaj et al.\'s attack.',
      checks.number(0))
  attack_mode_seeking_weight: float = setting(
      0.0, 'Weight of the mode-seeking loss of Mao et al. (2019) on the adversary\'s '
      'generator, against mode collapse (beyond Hitaj et al.). 0 = none.',
      checks.number(0))
  attack_grid_every_n_rounds: int = setting(
      5, 'Reconstruction grid every N rounds (and at the end).', _POSITIVE_INT)
  black_box_steps: int = setting(
      1500, 'Generator steps of the black-box attacker\'s WGAN-GP (1500 reach 0.19x the other '
      'class\'s Fréchet distance on the main job\'s 300 shirts; benchmarks/bench_black_box.py).',
      _POSITIVE_INT)
  black_box_width: int = setting(
      64, 'Base filters of the black-box attacker\'s generator and critic.', _POSITIVE_INT)
  black_box_learning_rate: float = setting(
      1e-4, 'Adam learning rate of the black-box attacker\'s generator and critic.', _POSITIVE)
  black_box_beta_1: float = setting(
      0.0, 'Adam beta_1 of the black-box attacker (Gulrajani et al.: 0).', _ADAM_BETA)
  black_box_beta_2: float = setting(
      0.9, 'Adam beta_2 of the black-box attacker (Gulrajani et al.: 0.9).', _ADAM_BETA)
  adaptive_steps: int = setting(
      1000, 'Training steps of the adaptive attacker\'s inversion network (on pairs of its '
      'own images, defended and not).', _POSITIVE_INT)
  adaptive_width: int = setting(
      32, 'Base filters of the adaptive attacker\'s inversion network (a U-Net).',
      _POSITIVE_INT)
  adaptive_learning_rate: float = setting(
      1e-3, 'Adam learning rate of the adaptive attacker\'s inversion network.', _POSITIVE)
  adaptive_batch_size: int = setting(
      64, 'Pairs per step of the adaptive attacker\'s inversion network.', _POSITIVE_INT)
  num_reconstructions: int = setting(
      64, 'Images per reconstruction grid (and per leakage measurement).', _POSITIVE_INT)

  def __post_init__(self):
    settings.check_settings(self)


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
  """What is measured after training: leakage and central RIAFI."""

  leakage_metrics: bool = setting(
      True, 'At the end, score the attackers\' reconstructions and the victim\'s shared data '
      'against the victim\'s real target-class images (leakage.json, report.md).',
      checks.boolean, resumable=True)
  central_riafi_epochs: int = setting(
      2, 'At the end, train a fresh classifier centrally for N epochs on the clients\' data '
      'as the federation sees it and measure its RIAFI on real images (utility.json); 0: off.',
      _NON_NEGATIVE_INT, resumable=True)
  leakage_samples: int = setting(
      500, 'Samples drawn from each attacker\'s generator for the headline leakage metrics '
      '(Fréchet distance, KID, precision/recall); the reference rows use as many. Below 500 '
      'the reports flag the distances as noisy.', checks.integer(6), resumable=True)
  cache_dir: Optional[str] = setting(
      None, 'Cache of the evaluation networks and the reference rows, keyed by what defines '
      'them; default $ANTIGAN_TF_CACHE_DIR or ~/.cache/antigan_tf.', checks.text(),
      resumable=True)
  evaluation_epochs: int = setting(
      3, 'Training epochs of the evaluation network (the judge of reconstructions).',
      _POSITIVE_INT, resumable=True)
  evaluation_max_train_examples: Optional[int] = setting(
      None, 'Train the evaluation network on the first N training images only (quick runs).',
      _OPTIONAL_POSITIVE_INT, resumable=True)

  def __post_init__(self):
    settings.check_settings(self)


@dataclasses.dataclass(frozen=True)
class WorkersConfig:
  """Where the rounds run: local TFF workers, or workers already running."""

  # Any workers compute the same rounds (to float32 summation order), so a
  # run may resume on others after losing one: all three are resumable.
  tff_workers: int = setting(
      1, 'Local TFF worker processes to start; with N > 1 the clients of each round are '
      'split over them (results match one worker to float32 summation order).',
      _POSITIVE_INT, resumable=True)
  tff_worker_addresses: tuple[str, ...] = setting(
      (), 'host:port,... of TFF workers already running (each started with '
      '`bin/tff_worker --port=P`), instead of local ones. They must read --output_dir at the '
      'same path (shared filesystem). Non-loopback hosts need --allow_remote_workers.',
      checks.each(checks.string_item), resumable=True)
  allow_remote_workers: bool = setting(
      False, 'Accept non-loopback --tff_worker_addresses. TFF workers speak plaintext, '
      'unauthenticated gRPC: use a private network or an SSH tunnel (docs/security.md).',
      checks.boolean, resumable=True)

  def __post_init__(self):
    settings.check_settings(self)
    if self.tff_worker_addresses and self.tff_workers != 1:
      raise _flag_error('tff_workers', f'({self.tff_workers}) and --tff_worker_addresses '
                        f'({",".join(self.tff_worker_addresses)}) exclude each other: pass '
                        'either local workers or running ones.')


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
  """Every setting of a federated experiment; see the module docstring."""

  output_dir: Optional[str] = setting(
      None, 'Run directory (hparams.csv, metrics.csv, tensorboard/, program_state/, victim/, '
      'attack/, client_store/). Re-running with the same directory resumes. Required.',
      checks.text(required=True))
  federation: FederationConfig = nested(FederationConfig)
  defense: DefenseConfig = nested(DefenseConfig)
  attack: AttackConfig = nested(AttackConfig)
  evaluation: EvaluationConfig = nested(EvaluationConfig)
  workers: WorkersConfig = nested(WorkersConfig)
  precision: str = precision_setting()
  overwrite: bool = setting(
      False, 'Delete the outputs of an earlier run in --output_dir first.', checks.boolean,
      resumable=True)
  progress: bool = setting(True, 'Show progress bars.', checks.boolean, resumable=True)

  def __post_init__(self):
    settings.check_settings(self)
    self._check_attacks()
    if self.evaluation.leakage_metrics and self.attack.num_reconstructions < 2:
      raise _flag_error('num_reconstructions', f'must be >= 2 with --leakage_metrics, got '
                        f'{self.attack.num_reconstructions}.')

  def _check_attacks(self):
    attack, federation = self.attack, self.federation
    if 'adaptive' in attack.attacks and not {'gan', 'black_box'} & set(attack.attacks):
      raise _flag_error('attacks', f'({",".join(attack.attacks)}) needs gan or black_box '
                        'with adaptive: the adaptive attacker inverts their reconstructions.')
    if 'gan' not in attack.attacks:
      return
    if attack.attack_fake_class == 'extra':
      if attack.attack_fake_label is not None:
        raise _flag_error('attack_fake_label', f'({attack.attack_fake_label}) is for '
                          '--attack_fake_class=declared or owned; with extra the fakes get a '
                          'class of their own.')
      return
    if attack.attack_fake_label == federation.target_class:
      raise _flag_error('attack_fake_label', f'({attack.attack_fake_label}) must differ from '
                        '--target_class.')
    if self._declared_fake_label not in federation.adversary_classes:
      raise _flag_error('attack_fake_label', f'({self._declared_fake_label}) must be one of the '
                        f'adversary\'s classes {list(federation.adversary_classes)} (Hitaj et '
                        'al.: a class the adversary declares).')

  def fake_label(self, num_classes: int) -> int:
    """The class the adversary gives its fakes in a dataset of `num_classes`.

    With --attack_fake_class=extra it is `num_classes` (the extra output);
    otherwise --attack_fake_label, by default the adversary's second class.
    """
    if self.attack.attack_fake_class == 'extra':
      return num_classes
    return self._declared_fake_label

  @property
  def _declared_fake_label(self) -> int:
    if self.attack.attack_fake_label is not None:
      return self.attack.attack_fake_label
    return self.federation.adversary_classes[-1]

  def model_classes(self, num_classes: int) -> int:
    """Outputs of the global model: one more for the adversary's extra class."""
    uses_extra = 'gan' in self.attack.attacks and self.attack.attack_fake_class == 'extra'
    return num_classes + 1 if uses_extra else num_classes

  @classmethod
  def from_flat(cls, values: Mapping[str, Any]) -> 'ExperimentConfig':
    """Builds the config from flag-named values; errors name the flag."""
    return settings.from_flat(cls, values)

  def to_flat(self) -> dict[str, Any]:
    """Flag name -> value of every setting."""
    return settings.to_flat(self)


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(DefenseConfig)}
# Settings that may change between a run and its resumption: they do not
# change what the run computes (`rounds` extends or finishes a run).
RESUMABLE_CHANGES = settings.resumable_names(ExperimentConfig)
