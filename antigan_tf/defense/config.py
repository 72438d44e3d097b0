"""The defender's settings: `DefenderConfig` (and `DefenderRunConfig` for
`bin/train_defender`), each setting declared once. Plain Python, no TF.

Flags are derived from these fields: `--defender_<field>` in `bin/run_tff`,
`--<field>` in `bin/train_defender`.
"""

import dataclasses
from typing import Any, Optional

from antigan_tf.data import sources
from antigan_tf.utils import checks
from antigan_tf.utils import settings
from antigan_tf.utils.settings import setting
from antigan_tf.utils.precision import precision_setting

TARGET_MODES = ('per_sample', 'mean', 'mean_maxpool')
VARIANCE_MODES = ('max', 'min')
# The loaders' datasets, the default first, and 'local' (files in --data_dir).
DATASETS = ('fashion_mnist', *(n for n in sources.DATASET_NAMES if n != 'fashion_mnist'),
            'local')
# How the mix ratio is reached (`mixing.replace_split`, `mixing.mix_real`).
MIX_MODES = ('replace', 'add')
# The simple defenses Anti-GAN is compared with (`antigan_tf.defense.baselines`).
BASELINE_DEFENSES = ('gaussian_blur', 'gaussian_noise', 'pixelate', 'drop_class')
# Each baseline's strength setting (drop_class has none).
BASELINE_STRENGTHS = {'gaussian_blur': 'gaussian_blur_sigma',
                      'gaussian_noise': 'gaussian_noise_std', 'pixelate': 'pixelate_block'}

_POSITIVE_INT = checks.integer(1)
_NON_NEGATIVE_INT = checks.integer(0)
_NON_NEGATIVE = checks.number(0)
_POSITIVE = checks.number(0, open_minimum=True)
_ADAM_BETA = checks.number(0, 1, open_maximum=True)


@dataclasses.dataclass(frozen=True)
class DefenderConfig:
  """Hyperparameters of a `Defender`; defaults follow the paper.

  Every field is a `setting` (default, help, check); building the dataclass
  checks and normalises them (`DefenderConfig.<field>` names a bad one).
  """

  lambda1: float = setting(
      3.92, 'Weight of L_sim, the per-pixel mean of (G(z) - t)^2 (eq. 6 divided by the '
      'H*W*C pixels): the paper\'s lambda1 times H*W*C. 3.92 is the paper\'s 0.005 (Fig. '
      '6) for 28 x 28 images. lambda1 = lambda2 = 0 is plain WGAN-GP.', _NON_NEGATIVE)
  lambda2: float = setting(
      48.0, 'Weight of L_obf = log Var(G(z)) in training (eq. 7/8); 48 in the paper\'s '
      'Fig. 6.', _NON_NEGATIVE)
  variance_mode: str = setting(
      'max', 'max: maximise the pixel variance (eq. 7, sharper images); min: minimise it '
      '(eq. 8, greyish).', checks.one_of(VARIANCE_MODES), choices=VARIANCE_MODES)
  target_mode: str = setting(
      'per_sample', 'L_sim target: per_sample (each real image: each x\' follows its own x), '
      'mean (the pixel-wise mean of the victim\'s images, the paper\'s experiments; every '
      'x\' is then pulled to one silhouette) or mean_maxpool (the paper\'s Fig. 4).',
      checks.one_of(TARGET_MODES), choices=TARGET_MODES)
  pool_size: int = setting(2, 'Max-pool window for target_mode=mean_maxpool.', _POSITIVE_INT)
  latent_dim: int = setting(100, 'Size of the latent vector z.', _POSITIVE_INT)
  generator_width: int = setting(64, 'Base filters of the DCGAN generator.', _POSITIVE_INT)
  critic_width: int = setting(64, 'Base filters of the critic.', _POSITIVE_INT)
  n_critic: int = setting(
      5, 'Critic updates per generator update (Gulrajani et al.: 5).', _POSITIVE_INT)
  gp_weight: float = setting(10.0, 'Gradient-penalty weight (Gulrajani et al.: 10).',
                             _NON_NEGATIVE)
  batch_size: int = setting(64, 'Training batch size.', _POSITIVE_INT)
  epochs: int = setting(
      50, 'Training epochs of `Defender.fit` (a resumed run continues up to it).',
      _POSITIVE_INT)
  generator_learning_rate: float = setting(1e-4, 'Adam learning rate of the generator.',
                                           _POSITIVE)
  critic_learning_rate: float = setting(1e-4, 'Adam learning rate of the critic.', _POSITIVE)
  adam_beta_1: float = setting(
      0.0, 'Adam beta_1 of both optimizers (Gulrajani et al.: 0.0).', _ADAM_BETA)
  adam_beta_2: float = setting(
      0.9, 'Adam beta_2 of both optimizers (Gulrajani et al.: 0.9).', _ADAM_BETA)
  restarts: int = setting(
      10, 'R: random z initialisations per image when projecting.', _POSITIVE_INT)
  projection_steps: int = setting(
      200, 'L: Adam steps per restart when projecting (0 = plain sampling).',
      _NON_NEGATIVE_INT)
  projection_lambda2: Optional[float] = setting(
      None, 'Weight of L_obf in the projection; unset = lambda2, as in the paper. High values '
      'saturate X\' into black-and-white silhouettes; 0 is the plain Defense-GAN projection.',
      checks.optional(_NON_NEGATIVE))
  projection_latent_weight: float = setting(
      0.0, 'Weight of a prior on ||z|| in the projection, (||z||^2 / latent_dim - 1)^2: it '
      'keeps z on the shell where the generator was trained. 0 = none.', _NON_NEGATIVE)
  projection_learning_rate: float = setting(
      0.05, 'Adam step size of the projection, in latent space.', _POSITIVE)
  projection_batch_size: int = setting(
      128, 'Images projected at once (times `restarts` latents).', _POSITIVE_INT)
  mix_ratio: float = setting(
      0.0, 'MR = #real / #generated images in the shared set (eq. 10); 0 = none.',
      _NON_NEGATIVE)
  mix_mode: str = setting(
      'replace', 'How MR is reached: replace (N images shared whatever MR: N/(1+MR) of them '
      'projected, the others real, so arms compare at one amount) or add (all N projected, '
      'MR*N real ones added: more images of the class than without the defense).',
      checks.one_of(MIX_MODES), choices=MIX_MODES)
  seed: int = setting(
      0, 'Seed of weight initialisation, training randomness, projection and mixing.',
      _NON_NEGATIVE_INT)
  image_grid_every_n_steps: int = setting(
      500, 'PNG grid of G(z) for a fixed z every N generator steps.', _POSITIVE_INT)
  image_grid_num_images: int = setting(64, 'Images per PNG grid.', _POSITIVE_INT)

  def __post_init__(self):
    settings.check_settings(self)

  @property
  def effective_projection_lambda2(self) -> float:
    """The projection's L_obf weight: `projection_lambda2`, or `lambda2` if unset."""
    return self.lambda2 if self.projection_lambda2 is None else self.projection_lambda2

  def to_dict(self) -> dict[str, Any]:
    """The fields as a JSON-serialisable dict."""
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, values) -> 'DefenderConfig':
    """Inverse of `to_dict`.

    Raises:
      ValueError: unknown field names or bad values.
    """
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
      raise ValueError(f'Unknown DefenderConfig field(s): {", ".join(unknown)}.')
    return cls(**values)


# Fields that define the trained model: a run directory's checkpoints can only
# be resumed with the same values (the others may change between fit calls).
TRAINING_FIELDS = (
    'lambda1', 'lambda2', 'variance_mode', 'target_mode', 'pool_size', 'latent_dim',
    'generator_width', 'critic_width', 'n_critic', 'gp_weight', 'batch_size',
    'generator_learning_rate', 'critic_learning_rate', 'adam_beta_1', 'adam_beta_2',
    'seed',
)


def max_mix_ratio(num_real: int, num_generated: int) -> float:
  """The largest MR that `num_real` real images allow for `num_generated` X'."""
  return num_real / num_generated


@dataclasses.dataclass(frozen=True)
class DefenderRunConfig:
  """Settings of `run_defender` (`bin/train_defender`): the data, the export
  and the defender's own `DefenderConfig` (flags without a prefix)."""

  output_dir: Optional[str] = setting(
      None, 'Run directory for hparams.csv, losses.csv, TensorBoard logs, image grids, '
      'checkpoints, the saved defender and obfuscated.npz. Required.',
      checks.text(required=True))
  dataset: str = setting(
      'fashion_mnist', 'Dataset whose train split holds the victim\'s images; "local" reads '
      '--data_dir.', checks.one_of(DATASETS), choices=DATASETS)
  data_dir: Optional[str] = setting(
      None, 'Directory searched first for the dataset files (IDX, .npz or CIFAR batches).',
      checks.text())
  num_classes: Optional[int] = setting(
      None, 'With --dataset=local: the number of classes (labels in [0, N)). Default: the '
      'largest training label + 1, with an image of every label below it.',
      checks.optional(checks.integer(2)))
  target_class: int = setting(
      6, 'The victim\'s private class; the defender trains on its images only.',
      _NON_NEGATIVE_INT)
  max_images: Optional[int] = setting(
      None, 'Use only the first N images of the target class (quick runs).',
      checks.optional(_POSITIVE_INT))
  export_count: Optional[int] = setting(
      None, 'Obfuscate and export only the first N training images (default all).',
      checks.optional(_POSITIVE_INT))
  progress: bool = setting(True, 'Show progress bars.', checks.boolean)
  precision: str = precision_setting()
  defender: DefenderConfig = settings.nested(DefenderConfig)

  @classmethod
  def from_flat(cls, values) -> 'DefenderRunConfig':
    """Builds the config from flag-named values; errors name the flag."""
    return settings.from_flat(cls, values)

  def to_flat(self) -> dict[str, Any]:
    """Flag name -> value of every setting (hparams.csv)."""
    return settings.to_flat(self)

  def __post_init__(self):
    settings.check_settings(self)
    if self.num_classes is not None and self.dataset != 'local':
      raise settings.SettingError(
          '--num_classes', f'applies to --dataset=local only (got --dataset={self.dataset}).',
          renamed=True)
    if self.max_images is not None and self.export_count is not None:
      if self.export_count > self.max_images:
        raise settings.SettingError(
            '--export_count', f'({self.export_count}) exceeds --max_images '
            f'({self.max_images}).', renamed=True)
