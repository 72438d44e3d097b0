"""The run's program state: what a checkpoint holds, loading it, resume hints.

A checkpoint (`tff.program.FileProgramStateManager`) holds everything a round
needs besides (seed, round): the TFF learning state, the adversary's
generator and optimizer, and the attack's progress. So a resumed run ends
exactly as an uninterrupted one.
"""

import asyncio
import collections
import contextlib
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import tensorflow_federated as tff

from antigan_tf import layout as layout_lib
from antigan_tf.federated import workers as workers_lib
from antigan_tf.utils.io import read_csv_rows


class CheckpointError(ValueError):
  """A checkpoint in the run directory cannot be used (nothing is deleted)."""


def run_sync(coroutine):
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


def program_state(learning_state, adversary_state: Sequence[Any], *, round_num: int,
                  attack_started: int, last_accuracy: Optional[float]):
  """The structure saved each checkpoint (last_accuracy None is saved as -1)."""
  return collections.OrderedDict(
      learning=learning_state,
      round=np.int64(round_num),
      attack_started=np.int64(attack_started),
      last_accuracy=np.float64(-1.0 if last_accuracy is None else last_accuracy),
      attacker=list(adversary_state),
  )


class RunState:
  """The run's checkpoints in `layout.state_dir`."""

  def __init__(self, layout: layout_lib.RunLayout, keep_checkpoints: int):
    self._layout = layout
    self.manager = tff.program.FileProgramStateManager(
        layout.state_dir, keep_total=keep_checkpoints, keep_first=False)

  def load_latest(self, structure):
    """(program state, round) of the newest checkpoint, or (None, 0).

    Raises:
      CheckpointError: a checkpoint exists but cannot be loaded.
    """
    try:
      loaded, version = run_sync(self.manager.load_latest(structure))
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(
          f'The checkpoint in {self._layout.state_dir!r} cannot be loaded '
          f'({type(e).__name__}: {e}). Nothing was deleted; move it away or pass '
          '`overwrite=True` (--overwrite) to start over.') from e
    return (None, 0) if loaded is None else (loaded, int(version))

  def save(self, state, round_num: int) -> None:
    run_sync(self.manager.save(state, round_num))

  def saved_rounds(self) -> list[int]:
    try:
      return list(run_sync(self.manager.get_versions()) or [])
    except Exception:  # pylint: disable=broad-except
      return []

  @contextlib.contextmanager
  def resume_hint_on_lost_worker(self):
    """Adds to a `WorkerLostError` where a re-run of the same call resumes."""
    try:
      yield
    except workers_lib.WorkerLostError as e:
      versions = self.saved_rounds()
      where = (f'the checkpoint of round {max(versions)}' if versions
               else 'the start (no round was checkpointed yet)')
      raise workers_lib.WorkerLostError(
          f'{e}\nThe run in {self._layout.root} stopped. Run the same command again to resume '
          f'from {where}; the workers may differ (--tff_workers, --tff_worker_addresses).',
          address=e.address) from e


def last_released_row(layout: layout_lib.RunLayout):
  """The last metrics row on disk ({} if none): a finished run's final metrics."""
  rows = read_csv_rows(layout.metrics_csv)[1]
  return rows[-1] if rows else {}
