"""Every file and folder of a run, a sweep and a defender directory: one owner.

Training, reports, sweeps, plots, notebooks and tests ask these classes for
paths instead of writing path strings. Plain Python, no TensorFlow.

A federated run (`run_federated`, `bin/run_tff`):

  hparams.csv             every setting of the run (name,value);
  metrics.csv             one row per round;
  tensorboard/            the same rows as TensorBoard scalars;
  program_state/          checkpoints (TFF state, adversary, round);
  client_store/           the clients' data as the federation sees it;
  victim/                 real_target_class.png, shared_target_class.png,
                          shared.npz (the shared data's cache),
                          defender/class_<c>/ (a defender directory, its
                          saved defender in saved/);
  attack/gan/             round_NNNNN.png grids, latest.npz, samples_NNNNN.npz
                          (the samples scored per round) and leakage_curve.csv;
  attack/black_box/       reconstructions.png and reconstructions.npz;
  attack/adaptive/        the adaptive attacker: pairs_defended.png and
                          pairs_original.png (what it learns from),
                          <source>_before.png and <source>_after.png (each
                          attacker's samples, then inverted), inverted.npz,
                          losses.csv, defender/class_<c>/ (Anti-GAN only);
  leakage.json, utility.json, report.md;
  .lock                   held by the process running it (`utils.locks`).

A sweep (`run_sweep`): sweep.json, sweep.csv, runs/<name>/ (each a run),
runs/<name>.log, plots/, report.md, .lock.

A defender directory (`Defender.fit`, `run_defender`): checkpoints/,
defender_config.json, tensorboard/, images/, losses.csv; `run_defender` adds
hparams.csv, defender/ (a saved `Defender`), obfuscated.npz and .lock.

The cache shared by runs ($ANTIGAN_TF_CACHE_DIR, ~/.cache/antigan_tf or
--cache_dir), each file keyed by what defines it: evaluation/ (evaluation
networks and reference rows) and black_box/<key>.npz (the black-box
attacker's samples for one shared set and setting: an undefended and a
DP-FedAvg run of the same seed share it).
"""

import os
import re
from typing import Optional

# Log lines that say which stage a run is in; sweeps read them from run logs.
PHASE_MARKER = '[antigan_tf phase]'
PHASE_LINE = re.compile(re.escape(PHASE_MARKER) + r' ([^\n]*)')

HPARAMS_FILE = 'hparams.csv'
# The lock file of an output directory (`utils.locks`): one process at a time.
LOCK_FILE = '.lock'
METRICS_FILE = 'metrics.csv'
LEAKAGE_FILE = 'leakage.json'
UTILITY_FILE = 'utility.json'
REPORT_FILE = 'report.md'
GAN_LEAKAGE_CURVE_FILE = 'leakage_curve.csv'


class RunLayout:
  """The paths of one federated run under `root`.

  Attributes named `*_REL` are relative to the run directory (for links in
  reports); the properties are absolute-or-as-given paths under `root`.
  """

  VICTIM_REL = 'victim'
  ATTACK_REL = 'attack'
  REAL_TARGET_GRID_REL = os.path.join(VICTIM_REL, 'real_target_class.png')
  SHARED_TARGET_GRID_REL = os.path.join(VICTIM_REL, 'shared_target_class.png')
  GAN_ATTACK_REL = os.path.join(ATTACK_REL, 'gan')
  BLACK_BOX_REL = os.path.join(ATTACK_REL, 'black_box')
  BLACK_BOX_GRID_REL = os.path.join(BLACK_BOX_REL, 'reconstructions.png')
  ADAPTIVE_REL = os.path.join(ATTACK_REL, 'adaptive')
  # What `overwrite` deletes: only outputs a run writes.
  OUTPUTS = (HPARAMS_FILE, METRICS_FILE, 'tensorboard', 'program_state', 'client_store',
             VICTIM_REL, ATTACK_REL, LEAKAGE_FILE, UTILITY_FILE, REPORT_FILE)

  def __init__(self, root: str):
    self.root = os.fspath(root)

  def _path(self, *parts: str) -> str:
    return os.path.join(self.root, *parts)

  @property
  def hparams_csv(self) -> str:
    return self._path(HPARAMS_FILE)

  @property
  def lock_file(self) -> str:
    return self._path(LOCK_FILE)

  @property
  def metrics_csv(self) -> str:
    return self._path(METRICS_FILE)

  @property
  def leakage_json(self) -> str:
    return self._path(LEAKAGE_FILE)

  @property
  def utility_json(self) -> str:
    return self._path(UTILITY_FILE)

  @property
  def report_md(self) -> str:
    return self._path(REPORT_FILE)

  @property
  def tensorboard_dir(self) -> str:
    return self._path('tensorboard')

  @property
  def state_dir(self) -> str:
    return self._path('program_state')

  @property
  def client_store_dir(self) -> str:
    return self._path('client_store')

  @property
  def victim_dir(self) -> str:
    return self._path(self.VICTIM_REL)

  @property
  def real_target_grid(self) -> str:
    return self._path(self.REAL_TARGET_GRID_REL)

  @property
  def shared_target_grid(self) -> str:
    return self._path(self.SHARED_TARGET_GRID_REL)

  @property
  def shared_cache(self) -> str:
    return self._path(self.VICTIM_REL, 'shared.npz')

  @property
  def defender_dir(self) -> str:
    """The victim's defender runs: one sub-directory per protected class."""
    return self._path(self.VICTIM_REL, 'defender')

  def defender_class_dir(self, class_id: int) -> str:
    return defender_class_dir(self.defender_dir, class_id)

  def defender_loss_csvs(self) -> list[str]:
    """The losses.csv of each defender run, sorted (none: [])."""
    root = self.defender_dir
    if not os.path.isdir(root):
      return []
    found = (os.path.join(root, d, DefenderLayout.LOSSES_CSV) for d in sorted(os.listdir(root)))
    return [path for path in found if os.path.exists(path)]

  @property
  def gan_attack_dir(self) -> str:
    return self._path(self.GAN_ATTACK_REL)

  def gan_round_grid(self, round_num: int) -> str:
    return os.path.join(self.gan_attack_dir, f'round_{round_num:05d}.png')

  @property
  def gan_latest_npz(self) -> str:
    return os.path.join(self.gan_attack_dir, 'latest.npz')

  def gan_round_samples(self, round_num: int) -> str:
    """The generator's samples after a grid round, scored for the leakage curve."""
    return os.path.join(self.gan_attack_dir, f'samples_{round_num:05d}.npz')

  def gan_sample_rounds(self) -> list[int]:
    """The rounds that have `gan_round_samples`, ascending."""
    if not os.path.isdir(self.gan_attack_dir):
      return []
    found = (re.fullmatch(r'samples_(\d{5})\.npz', n) for n in os.listdir(self.gan_attack_dir))
    return sorted(int(m.group(1)) for m in found if m)

  @property
  def gan_leakage_curve_csv(self) -> str:
    return os.path.join(self.gan_attack_dir, GAN_LEAKAGE_CURVE_FILE)

  def last_gan_grid_rel(self) -> Optional[str]:
    """The newest round grid of the GAN adversary, relative to the run (or None)."""
    if not os.path.isdir(self.gan_attack_dir):
      return None
    grids = sorted(n for n in os.listdir(self.gan_attack_dir)
                   if n.startswith('round_') and n.endswith('.png'))
    return os.path.join(self.GAN_ATTACK_REL, grids[-1]) if grids else None

  @property
  def black_box_dir(self) -> str:
    return self._path(self.BLACK_BOX_REL)

  @property
  def black_box_npz(self) -> str:
    return os.path.join(self.black_box_dir, 'reconstructions.npz')

  @property
  def black_box_grid(self) -> str:
    return self._path(self.BLACK_BOX_GRID_REL)

  @property
  def adaptive_dir(self) -> str:
    return self._path(self.ADAPTIVE_REL)

  @property
  def adaptive_npz(self) -> str:
    """The inverted samples of each source attacker, with the cache key."""
    return os.path.join(self.adaptive_dir, 'inverted.npz')

  @property
  def adaptive_losses_csv(self) -> str:
    return os.path.join(self.adaptive_dir, 'losses.csv')

  @property
  def adaptive_defender_dir(self) -> str:
    """The adaptive attacker's own Anti-GAN defenders (`defender_class_dir`)."""
    return os.path.join(self.adaptive_dir, 'defender')

  def adaptive_pairs_grid(self, kind: str) -> str:
    """Its own images, `kind` 'defended' or 'original'."""
    return os.path.join(self.adaptive_dir, f'pairs_{kind}.png')

  @classmethod
  def adaptive_grid_rel(cls, source: str, stage: str) -> str:
    """`source`'s samples, `stage` 'before' or 'after' the inversion (relative)."""
    return os.path.join(cls.ADAPTIVE_REL, f'{source}_{stage}.png')

  def adaptive_grid(self, source: str, stage: str) -> str:
    return self._path(self.adaptive_grid_rel(source, stage))

  def pngs_rel(self, relative_dir: str) -> list[str]:
    """The PNGs directly in `relative_dir`, relative to the run, sorted."""
    directory = self._path(relative_dir)
    if not os.path.isdir(directory):
      return []
    return sorted(os.path.join(relative_dir, n) for n in os.listdir(directory)
                  if n.endswith('.png'))


def defender_class_dir(work_dir: str, class_id: int) -> str:
  """The defender directory of one protected class under a victim's `work_dir`."""
  return os.path.join(work_dir, f'class_{class_id}')


def run_name(params) -> str:
  """A file-system-safe directory name for one configuration of a sweep
  (its flags, `name=value` joined by commas; 'base' for none)."""
  if not params:
    return 'base'
  text = ','.join(f'{k}={v}' for k, v in params.items())
  return re.sub(r'[^A-Za-z0-9_.,=+-]', '_', text)


class SweepLayout:
  """The paths of a sweep under `root`; each run is a `RunLayout`."""

  RUNS_REL = 'runs'
  PLOTS_REL = 'plots'
  SWEEP_JSON = 'sweep.json'
  SWEEP_CSV = 'sweep.csv'
  SWEEP_SUMMARY_CSV = 'sweep_summary.csv'
  FRONTIER_PLOT = 'privacy_utility_frontier.png'
  # The frontier with the central RIAFI ratio as the utility axis.
  FRONTIER_CENTRAL_PLOT = 'privacy_utility_frontier_central.png'
  DEFENDER_LOSS_PLOT = 'defender_losses.png'

  def __init__(self, root: str):
    self.root = os.fspath(root)

  @property
  def sweep_json(self) -> str:
    return os.path.join(self.root, self.SWEEP_JSON)

  @property
  def lock_file(self) -> str:
    return os.path.join(self.root, LOCK_FILE)

  @property
  def sweep_csv(self) -> str:
    return os.path.join(self.root, self.SWEEP_CSV)

  @property
  def sweep_summary_csv(self) -> str:
    """Each point's mean and 95% interval over its seeds."""
    return os.path.join(self.root, self.SWEEP_SUMMARY_CSV)

  @property
  def report_md(self) -> str:
    return os.path.join(self.root, REPORT_FILE)

  @property
  def runs_dir(self) -> str:
    return os.path.join(self.root, self.RUNS_REL)

  def run_dir(self, name: str) -> str:
    return os.path.join(self.runs_dir, name)

  def run(self, name: str) -> RunLayout:
    return RunLayout(self.run_dir(name))

  def run_log(self, name: str) -> str:
    return os.path.join(self.runs_dir, f'{name}.log')

  def run_rel(self, name: str, relative: str = '') -> str:
    """A path inside run `name`, relative to the sweep (for report links)."""
    return os.path.join(self.RUNS_REL, name, relative) if relative else os.path.join(
        self.RUNS_REL, name)

  @property
  def plots_dir(self) -> str:
    return os.path.join(self.root, self.PLOTS_REL)

  def plot(self, name: str) -> str:
    return os.path.join(self.plots_dir, name)


class DefenderLayout:
  """The paths of a defender directory (`Defender.fit`, `run_defender`) under `root`."""

  CHECKPOINT_DIR = 'checkpoints'
  CHECKPOINT_CONFIG_FILE = 'defender_config.json'
  TENSORBOARD_DIR = 'tensorboard'
  IMAGES_DIR = 'images'
  LOSSES_CSV = 'losses.csv'
  SAVED_DEFENDER_DIR = 'defender'
  SAVED_IN_RUN_DIR = 'saved'
  OBFUSCATED_FILE = 'obfuscated.npz'
  # A saved `Defender` (`Defender.save`).
  GENERATOR_FILE = 'generator.keras'
  CRITIC_FILE = 'critic.keras'
  SIM_TARGET_FILE = 'sim_target.npy'
  METADATA_FILE = 'defender.json'

  def __init__(self, root: str):
    self.root = os.fspath(root)

  def _path(self, name: str) -> str:
    return os.path.join(self.root, name)

  @property
  def lock_file(self) -> str:
    return self._path(LOCK_FILE)

  @property
  def checkpoint_dir(self) -> str:
    return self._path(self.CHECKPOINT_DIR)

  @property
  def checkpoint_config(self) -> str:
    return os.path.join(self.checkpoint_dir, self.CHECKPOINT_CONFIG_FILE)

  @property
  def tensorboard_dir(self) -> str:
    return self._path(self.TENSORBOARD_DIR)

  @property
  def images_dir(self) -> str:
    return self._path(self.IMAGES_DIR)

  @property
  def losses_csv(self) -> str:
    return self._path(self.LOSSES_CSV)

  @property
  def hparams_csv(self) -> str:
    return self._path(HPARAMS_FILE)

  @property
  def saved_defender_dir(self) -> str:
    return self._path(self.SAVED_DEFENDER_DIR)

  @property
  def obfuscated_npz(self) -> str:
    return self._path(self.OBFUSCATED_FILE)

  @property
  def saved_in_run_dir(self) -> str:
    """Where a federated run's victim saves the defender of this directory."""
    return self._path(self.SAVED_IN_RUN_DIR)


def default_cache_dir() -> str:
  """$ANTIGAN_TF_CACHE_DIR, or ~/.cache/antigan_tf."""
  return os.environ.get('ANTIGAN_TF_CACHE_DIR') or os.path.join(
      os.path.expanduser('~'), '.cache', 'antigan_tf')


class CacheLayout:
  """The paths of the cache shared by runs under `root` (default `default_cache_dir()`)."""

  EVALUATION_REL = 'evaluation'
  BLACK_BOX_REL = 'black_box'

  def __init__(self, root=None):
    self.root = os.fspath(root) if root else default_cache_dir()

  @property
  def evaluation_dir(self) -> str:
    return os.path.join(self.root, self.EVALUATION_REL)

  def black_box_npz(self, key: str) -> str:
    """The black-box attacker's samples for cache key `key` (a hex digest)."""
    return os.path.join(self.root, self.BLACK_BOX_REL, f'{key}.npz')
