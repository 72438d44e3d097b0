"""Sweeps: grid parsing (no runs), then a tiny real sweep end to end."""

import csv
import os
import subprocess
import sys

import pytest

from antigan_tf.experiments import sweep


def test_parse_and_expand_grid():
  grid = sweep.parse_grid(['defender_lambda2=0, 48', '--seed=1,2'])
  assert list(grid.items()) == [('defender_lambda2', ['0', '48']), ('seed', ['1', '2'])]
  configs = sweep.expand_grid(grid)
  assert [list(c.values()) for c in configs] == [['0', '1'], ['0', '2'], ['48', '1'], ['48', '2']]
  assert sweep.run_name(configs[1]) == 'defender_lambda2=0,seed=2'
  assert sweep.run_name({'data_dir': '/a b'}) == 'data_dir=_a_b'
  assert sweep.expand_grid({}) == [{}]


@pytest.mark.parametrize(
    'specs, message',
    [
        (['seed'], 'name=value'),
        (['=1,2'], 'name=value'),
        (['seed='], 'non-empty'),
        (['seed=1,,2'], 'non-empty'),
        (['seed=1', 'seed=2'], 'twice'),
    ],
)
def test_bad_grid_specs(specs, message):
  with pytest.raises(ValueError, match=message):
    sweep.parse_grid(specs)


def test_plot_rejects_unknown_columns(tmp_path):
  with pytest.raises(ValueError, match='nope'):
    sweep.plot_sweep([{'a': '1', 'b': '2'}], x='a', y='nope', path=str(tmp_path / 'p.png'))


@pytest.fixture(scope='module')
def tiny_sweep(tmp_path_factory):
  repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  out = tmp_path_factory.mktemp('sweep')
  result = sweep.run_sweep(
      output_dir=str(out), base_flagfile=os.path.join(repo_root, 'configs', 'smoke.flags'),
      grid={'attack_num_images': ['4', '8']}, parallel=2,
      extra_flags=['--rounds=1'], plots=[('attack_num_images', 'train_examples')],
      progress=False)
  return out, result, repo_root


def test_tiny_sweep_writes_rows_plots_and_report(tiny_sweep):
  out, result, _ = tiny_sweep
  assert result.failed == [] and result.skipped == []
  with open(out / 'sweep.csv', newline='') as f:
    rows = list(csv.DictReader(f))
  assert [r['attack_num_images'] for r in rows] == ['4', '8']
  # 4 clients x 64 images + the injected fakes: the grid value reached the run.
  assert [int(r['train_examples']) for r in rows] == [4 * 64 + 4, 4 * 64 + 8]
  assert all(0.0 <= float(r['gan_adversary.oracle_rate']) <= 1.0 for r in rows)
  assert (out / 'plots' / 'train_examples_vs_attack_num_images.png').stat().st_size > 0
  report = (out / 'report.md').read_text()
  assert 'runs/attack_num_images=8/report.md' in report
  assert '![train_examples_vs_attack_num_images.png]' in report


def test_rerunning_a_sweep_skips_finished_runs(tiny_sweep):
  out, _, repo_root = tiny_sweep
  again = sweep.run_sweep(
      output_dir=str(out), base_flagfile=os.path.join(repo_root, 'configs', 'smoke.flags'),
      grid={'attack_num_images': ['4', '8']}, extra_flags=['--rounds=1'], progress=False)
  assert again.skipped == ['attack_num_images=4', 'attack_num_images=8']
  assert len(again.rows) == 2


def test_cli_rejects_unknown_and_reserved_parameters(repo_root, tmp_path):
  for grid, message in (('no_such_flag=1,2', 'no_such_flag'), ('output_dir=a,b', 'output_dir')):
    proc = subprocess.run(
        [sys.executable, os.path.join(repo_root, 'bin', 'run_sweep'),
         f'--output_dir={tmp_path}', f'--base_flagfile={repo_root}/configs/smoke.flags',
         f'--grid={grid}'],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last_line = proc.stderr.strip().splitlines()[-1]
    assert last_line.startswith('run_sweep: error:') and message in last_line
