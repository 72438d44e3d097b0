"""The run directory as a record: the hparams of a run, and whether a
directory may hold this run (fresh, resumable, or another configuration's).
"""

import collections
import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, Optional

from antigan_tf import layout as layout_lib
from antigan_tf.federated import checkpoints
from antigan_tf.federated import config as config_lib
from antigan_tf.federated import victim as victim_lib
from antigan_tf.utils import locks
from antigan_tf.utils import precision as precision_lib
from antigan_tf.utils.io import format_hparam
from antigan_tf.utils.io import read_csv_rows
from antigan_tf.utils.io import make_private_dir
from antigan_tf.utils.io import read_hparams_csv
from antigan_tf.utils.io import write_hparams_csv


def hparams_record(config: config_lib.ExperimentConfig,
                   victim_transform: Optional[Callable],
                   worker_addresses: Optional[Sequence[str]]) -> 'collections.OrderedDict[str, Any]':
  """hparams.csv of a run: every setting by its flag name, plus the victim hook.

  The defender's and each baseline's settings are recorded only when it runs
  (else empty), list
  settings comma-joined, the worker addresses as checked and resolved, and
  the precision as resolved (`auto` becomes the policy it picked here).
  """
  record = collections.OrderedDict(config.to_flat())
  anti_gan = config.defense.defense == 'anti_gan'
  for name in record:
    if name.startswith(config_lib.DEFENDER_FLAG_PREFIX) and not anti_gan:
      record[name] = None
  for defense, name in config_lib.BASELINE_STRENGTHS.items():
    if config.defense.defense != defense:
      record[name] = None
  record['attacks'] = ','.join(config.attack.attacks)
  record['tff_worker_addresses'] = ','.join(worker_addresses or ())
  record['precision'] = precision_lib.resolve(config.precision)
  record['victim_transform'] = (
      None if victim_transform is None else victim_lib.describe(victim_transform))
  return collections.OrderedDict(sorted(record.items()))


def check_writable(output_dir: str) -> None:
  """Creates `output_dir` (private to the user if new) and checks that files
  can be written in it."""
  try:
    make_private_dir(output_dir)
    with tempfile.NamedTemporaryFile(dir=output_dir, prefix='.write-test-'):
      pass
  except OSError as e:
    raise ValueError(f'`output_dir` {output_dir!r} is not writable: {e.strerror or e}.') from e
  except ValueError as e:  # From make_private_dir: a file in the way.
    raise ValueError(f'`output_dir` is not writable: {e}') from e


def _delete_outputs(layout: layout_lib.RunLayout) -> None:
  for name in layout.OUTPUTS:
    path = os.path.join(layout.root, name)
    if os.path.isdir(path):
      shutil.rmtree(path)
    elif os.path.exists(path):
      os.remove(path)


def check_existing_run(layout: layout_lib.RunLayout, hparams, *, overwrite: bool) -> None:
  """Refuses a run directory that holds another configuration's run.

  With `overwrite`, deletes an earlier run's outputs (only those) instead.

  Raises:
    CheckpointError: checkpoints without hparams.csv.
    ValueError: the directory holds a different configuration's run, or
      more rounds than `hparams` asks for.
  """
  if overwrite:
    _delete_outputs(layout)
    return
  if not (os.path.isdir(layout.state_dir) and os.listdir(layout.state_dir)):
    return
  if not os.path.exists(layout.hparams_csv):
    raise checkpoints.CheckpointError(
        f'{layout.root!r} holds checkpoints but no {layout_lib.HPARAMS_FILE}; use another '
        '`output_dir` or `overwrite=True`.')
  previous = read_hparams_csv(layout.hparams_csv)
  current = {k: format_hparam(v) for k, v in hparams.items()}
  differing = sorted(
      k for k in set(previous) | set(current)
      if k not in config_lib.RESUMABLE_CHANGES and previous.get(k) != current.get(k))
  if differing:
    details = ', '.join(
        f'{k} ({previous.get(k, "unset") or "None"} -> {current.get(k, "unset") or "None"})'
        for k in differing)
    raise ValueError(
        f'{layout.root!r} holds a checkpoint of a different configuration: {details}. '
        'Use another `output_dir`, or `overwrite=True` (--overwrite) to start over.')
  done, asked = _rounds_done(layout), int(current.get('rounds', 0) or 0)
  if done > asked:
    # Its results are round `done`'s: reported as `asked` rounds, they would lie.
    raise ValueError(
        f'{layout.root!r} holds a run of {done} rounds, more than --rounds={asked}. Use '
        f'--rounds={done} or more to extend it, another `output_dir`, or `overwrite=True` '
        '(--overwrite) to start over.')


def _rounds_done(layout: layout_lib.RunLayout) -> int:
  """The last round in metrics.csv (0 without one)."""
  if not os.path.exists(layout.metrics_csv):
    return 0
  _, rows = read_csv_rows(layout.metrics_csv)
  return int(rows[-1]['round']) if rows else 0


@contextlib.contextmanager
def exclusive(layout: layout_lib.RunLayout):
  """Creates the run directory and holds its lock for the `with` block.

  Raises:
    ValueError: the directory is not writable.
    locks.DirectoryInUseError: another process is running in it.
  """
  check_writable(layout.root)
  with locks.exclusive_lock(layout.lock_file, what=f'Run directory {layout.root!r}'):
    yield


def prepare(layout: layout_lib.RunLayout, hparams, *, overwrite: bool) -> None:
  """Checks the directory for this run (under its lock), then writes its hparams.csv."""
  check_existing_run(layout, hparams, overwrite=overwrite)
  write_hparams_csv(layout.hparams_csv, hparams)
