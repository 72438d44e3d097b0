"""Whether a run directory may hold this run: a finished run is not re-labelled."""

import pytest

from antigan_tf import layout as layout_lib
from antigan_tf.federated import run_directory
from antigan_tf.utils.io import write_hparams_csv


def _finished_run(root, rounds):
  layout = layout_lib.RunLayout(str(root))
  (root / 'program_state' / f'program_state_{rounds}').mkdir(parents=True)
  write_hparams_csv(layout.hparams_csv, {'rounds': rounds, 'seed': 0})
  (root / 'metrics.csv').write_text(
      'round,test_accuracy\n' + ''.join(f'{r},0.5\n' for r in range(1, rounds + 1)))
  return layout


def test_a_run_asked_for_fewer_rounds_than_it_holds_is_refused(tmp_path):
  layout = _finished_run(tmp_path, 4)
  with pytest.raises(ValueError, match=r'holds a run of 4 rounds, more than --rounds=2\. '
                                       r'Use --rounds=4 or more'):
    run_directory.check_existing_run(layout, {'rounds': 2, 'seed': 0}, overwrite=False)
  for rounds in (4, 6):  # The same run, or one to extend: fine.
    run_directory.check_existing_run(layout, {'rounds': rounds, 'seed': 0}, overwrite=False)
  run_directory.check_existing_run(layout, {'rounds': 2, 'seed': 0}, overwrite=True)
  assert not (tmp_path / 'metrics.csv').exists()  # Overwrite starts over.
