"""A sweep's points over seeds: means and 95% intervals, by hand."""

import math
import os
import stat

import pytest
from scipy import stats

from antigan_tf.experiments import plots
from antigan_tf.experiments import seeds
from antigan_tf.experiments import sweep_report
from antigan_tf.layout import run_name


def _rows_and_params():
  params = [{'defense': d, 'seed': str(s)} for d in ('none', 'dp') for s in (0, 1, 2)]
  values = {'none': [0.8, 0.7, 0.9], 'dp': [0.5, 0.5, 0.5]}
  rows = []
  for p in params:
    value = values[p['defense']][int(p['seed'])]
    rows.append({'run': run_name(p), 'defense': p['defense'], 'seed': p['seed'],
                 'riafi_ratio': str(value), 'black_box.frechet_distance': 10 * value,
                 'reference.other_class.frechet_distance': 10.5,
                 'only_in_one': '1' if p['seed'] == '0' else '', 'reference_run': 'x'})
  return rows, {run_name(p): p for p in params}


def test_interval_half_width_by_hand():
  # mean 0.8, s = 0.1, n = 3: t_{0.975, 2} = 4.303 -> 4.303 * 0.1 / sqrt(3).
  half = seeds.interval_half_width([0.8, 0.7, 0.9])
  assert half == pytest.approx(4.302653 * 0.1 / math.sqrt(3), rel=1e-5)
  assert half == pytest.approx(stats.t.ppf(0.975, 2) * 0.1 / math.sqrt(3))
  assert seeds.interval_half_width([0.5, 0.5]) == 0.0
  assert seeds.interval_half_width([0.5]) is None


def test_summary_gives_one_row_per_point_with_means_and_intervals():
  rows, params_of = _rows_and_params()
  summary = seeds.summarize_seeds(rows, params_of)
  assert [p['point'] for p in summary] == ['defense=none', 'defense=dp']
  none, dp = summary
  assert none['num_seeds'] == 3 and none['seeds'] == '0,1,2' and none['defense'] == 'none'
  assert 'seed' not in none and 'run' not in none and 'reference_run' not in none
  assert none['riafi_ratio'] == pytest.approx(0.8)
  assert none['riafi_ratio_ci95'] == pytest.approx(seeds.interval_half_width([0.8, 0.7, 0.9]))
  assert none['black_box.frechet_distance'] == pytest.approx(8.0)
  assert dp['riafi_ratio_ci95'] == 0.0
  # A column missing from one seed's row is not averaged over the others.
  assert 'only_in_one' not in none


def test_has_seeds_needs_a_point_with_two_seeds():
  assert seeds.has_seeds([{'defense': 'none', 'seed': '0'}, {'defense': 'none', 'seed': '1'}])
  assert not seeds.has_seeds([{'defense': 'none', 'seed': '0'}, {'defense': 'dp', 'seed': '1'}])
  assert not seeds.has_seeds([{'defense': 'none'}])


def test_frontier_of_a_summary_draws_intervals_and_references(tmp_path, monkeypatch):
  rows, params_of = _rows_and_params()
  summary = seeds.summarize_seeds(rows, params_of)
  drawn = []
  real_axvline = plots._pyplot().Axes.axvline
  monkeypatch.setattr(plots._pyplot().Axes, 'axvline',
                      lambda self, x, **kw: drawn.append((x, kw['label'])) or real_axvline(
                          self, x, **kw))
  path = plots.plot_frontier(summary, path=str(tmp_path / 'f.png'))
  assert path and os.path.getsize(path) > 0
  assert (10.5, 'reference: other_class') in drawn
  assert plots._errors(summary, 'riafi_ratio') == [
      pytest.approx(summary[0]['riafi_ratio_ci95']), 0.0]
  assert plots._errors(rows, 'riafi_ratio') is None  # Single runs: no bars.


def test_report_table_shows_mean_and_interval():
  rows, params_of = _rows_and_params()
  rows = [{**r, 'test_accuracy': '0.7'} for r in rows]
  lines = sweep_report.seed_summary_table(seeds.summarize_seeds(rows, params_of))
  table = '\n'.join(lines)
  assert '| defense=none | 3 |' in table and '0.8 ± 0.25' in table and '0.5 ± 0' in table
  assert sweep_report.seed_summary_table([]) == []


# A stand-in for bin/run_tff: writes the files a finished run has, with a
# RIAFI that depends on the seed and the defense. Only run_sweep is tested.
_FAKE_RUN_TFF = '''
import json, os, sys
args = dict(a[2:].split('=', 1) for a in sys.argv[1:] if a.startswith('--') and '=' in a)
out, seed, defense = args['output_dir'], int(args.get('seed', 0)), args.get('defense', 'none')
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, 'hparams.csv'), 'w') as f:
  f.write(f'name,value\\nrounds,1\\ndefense,{defense}\\nattacks,black_box\\nseed,{seed}\\n')
riafi = (0.8 if defense == 'none' else 0.4) + 0.1 * seed
with open(os.path.join(out, 'metrics.csv'), 'w') as f:
  f.write(f'round,target_accuracy,test_accuracy\\n1,{riafi},0.7\\n')
with open(os.path.join(out, 'leakage.json'), 'w') as f:
  json.dump({'reference.other_class': {'frechet_distance': 10.0},
             'black_box': {'frechet_distance': 2.0 + seed + (defense != 'none') * 5}}, f)
with open(os.path.join(out, 'utility.json'), 'w') as f:
  json.dump({'central_riafi': riafi + 0.05}, f)
open(os.path.join(out, 'report.md'), 'w').write('# fake')
'''


@pytest.mark.tff  # Sweeps belong to the federated part (its config), even with a fake run.
def test_a_sweep_over_seeds_writes_the_summary_and_its_report(tmp_path):
  from antigan_tf.experiments import sweep  # pylint: disable=g-import-not-at-top

  fake = tmp_path / 'fake_run_tff'
  fake.write_text(_FAKE_RUN_TFF)
  base = tmp_path / 'base.flags'
  base.write_text('--rounds=1\n')
  result = sweep.run_sweep(
      output_dir=str(tmp_path / 'sweep'), base_flagfile=str(base), grid={'seed': ['0', '1', '2']},
      arms=[{'defense': ['none']}, {'defense': ['dp']}], reference={'defense': 'none'},
      frontier=True, run_tff=str(fake), progress=False)
  assert not result.failed and len(result.rows) == 6
  assert stat.S_IMODE(os.stat(tmp_path / 'sweep').st_mode) == 0o700  # Private to the user.
  with open(tmp_path / 'sweep' / 'sweep_summary.csv') as f:
    summary = list(__import__('csv').DictReader(f))
  assert [p['point'] for p in summary] == ['defense=none', 'defense=dp']
  dp = summary[1]
  # Each seed against the reference of its own seed: (0.4 + 0.1 s) / (0.8 + 0.1 s).
  ratios = [(0.4 + 0.1 * s) / (0.8 + 0.1 * s) for s in range(3)]
  assert float(dp['riafi_ratio']) == pytest.approx(sum(ratios) / 3)
  assert float(dp['riafi_ratio_ci95']) == pytest.approx(seeds.interval_half_width(ratios))
  assert float(dp['black_box.frechet_distance']) == pytest.approx(8.0)
  report = (tmp_path / 'sweep' / 'report.md').read_text()
  assert 'Mean ± 95% interval' in report and '| defense=dp | 3 |' in report
  assert (tmp_path / 'sweep' / 'plots' / 'privacy_utility_frontier.png').exists()
  assert (tmp_path / 'sweep' / 'plots' / 'privacy_utility_frontier_central.png').exists()
  # The verdict: dp's ratios ((0.5, 0.545, 0.583), mean 0.54) miss the 0.9 floor.
  assert '## Verdict' in report
  assert '**black_box, riafi_ratio >= 0.9 and test_accuracy_ratio >= 0.9:**' in report
  assert '| dp | (none reaches the floors) | 0 |' in report
  assert '**black_box, central_riafi_ratio >= 0.9 and test_accuracy_ratio >= 0.9:**' in report
