"""Sweeps: grid parsing (no runs), then a tiny real sweep end to end."""

import csv
import json
import os
import subprocess
import sys

import pytest

import helpers
from antigan_tf import layout
from antigan_tf.experiments import plots
from antigan_tf.experiments import sweep
from antigan_tf.experiments import sweep_report
from antigan_tf.utils import locks


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


def test_arms_are_a_union_of_grids_times_the_grid():
  configs = sweep.expand_configurations(
      {'seed': ['0', '1']},
      [sweep.parse_arm('defense=none'),
       sweep.parse_arm('defense=anti_gan;defender_lambda2=12,48'),
       sweep.parse_arm('defense=none')])  # A repeated arm adds no run.
  assert [sweep.run_name(c) for c in configs] == [
      'seed=0,defense=none', 'seed=1,defense=none',
      'seed=0,defense=anti_gan,defender_lambda2=12', 'seed=0,defense=anti_gan,defender_lambda2=48',
      'seed=1,defense=anti_gan,defender_lambda2=12', 'seed=1,defense=anti_gan,defender_lambda2=48']
  with pytest.raises(ValueError, match='both the grid and an arm'):
    sweep.expand_configurations({'seed': ['0']}, [{'seed': ['1']}])


def test_reference_drops_only_defense_flags():
  reference = sweep.parse_reference('defense=none')
  params = {'seed': '1', 'defense': 'dp', 'dp_noise_multiplier': '0.5',
            'defender_lambda2': '12', 'rounds': '3'}
  assert list(sweep.reference_configuration(params, reference).items()) == [
      ('seed', '1'), ('defense', 'none'), ('rounds', '3')]
  baseline = {'seed': '1', 'defense': 'pixelate', 'pixelate_block': '4'}
  assert list(sweep.reference_configuration(baseline, reference).items()) == [
      ('seed', '1'), ('defense', 'none')]
  # A configuration that is its own reference keeps its name.
  own = {'defense': 'none', 'attack_num_images': '4'}
  assert sweep.run_name(sweep.reference_configuration(own, reference)) == sweep.run_name(own)
  assert list(sweep.reference_configuration({'seed': '1'}, reference).items()) == [
      ('seed', '1'), ('defense', 'none')]
  for bad in ('defense=none,dp', 'defense'):
    with pytest.raises(ValueError):
      sweep.parse_reference(bad)


def test_reference_columns_are_ratios_to_the_reference_run():
  rows = [
      {'run': 'ref', 'riafi': 0.8, 'test_accuracy': '0.5', 'central_riafi': 0.5,
       'gan_adversary.nn_ssim_mean': 0.4, 'black_box.nn_ssim_mean': 0.6},
      {'run': 'def', 'riafi': 0.72, 'test_accuracy': '0.45', 'central_riafi': 0.6,
       'gan_adversary.nn_ssim_mean': 0.1, 'black_box.nn_ssim_mean': 0.3},
      {'run': 'dead', 'riafi': 0.5, 'test_accuracy': '0.4'},
      {'run': 'dead_ref', 'riafi': 0.0, 'test_accuracy': '0.1'},
  ]
  out = sweep.add_reference_columns(
      rows, {'ref': 'ref', 'def': 'ref', 'dead': 'dead_ref', 'dead_ref': 'dead_ref'})
  assert out[0]['riafi_ratio'] == pytest.approx(1.0)
  assert out[1]['reference_run'] == 'ref'
  assert out[1]['riafi_ratio'] == pytest.approx(0.9)
  assert out[1]['test_accuracy_ratio'] == pytest.approx(0.9)
  assert out[1]['central_riafi_ratio'] == pytest.approx(1.2)
  assert out[1]['gan_adversary.nn_ssim_ratio'] == pytest.approx(0.25)
  assert out[1]['black_box.nn_ssim_ratio'] == pytest.approx(0.5)
  # A reference that never learned the target class normalises nothing.
  assert out[2]['riafi_ratio'] is None and 'gan_adversary.nn_ssim_ratio' not in out[2]
  assert 'riafi_ratio' not in rows[1]  # The input rows are not modified.


def test_pareto_front_keeps_the_undominated_points():
  points = [(0.5, 1.0), (0.2, 0.9), (0.3, 0.8), (0.1, 0.5), (0.2, 0.7), (0.6, 0.95)]
  assert plots.pareto_front(points) == [(0.1, 0.5), (0.2, 0.9), (0.5, 1.0)]
  assert plots.pareto_front([]) == []


def test_plot_rejects_unknown_columns(tmp_path):
  with pytest.raises(ValueError, match='nope'):
    plots.plot_sweep([{'a': '1', 'b': '2'}], x='a', y='nope', path=str(tmp_path / 'p.png'))


def test_frontier_and_loss_plots(tmp_path):
  rows = [{'run': f'defense={d},x={i}', 'defense': d, 'riafi_ratio': str(u),
           'gan_adversary.nn_ssim_mean': str(l), 'gan_adversary.frechet_distance': str(10 * l),
           'gan_adversary.kid': str(l / 2)}
          for i, (d, u, l) in enumerate([('none', 1.0, 0.4), ('anti_gan', 0.9, 0.2),
                                          ('dp', 0.5, 0.3)])]
  path = plots.plot_frontier(rows, path=str(tmp_path / 'f.png'))
  assert path and os.path.getsize(path) > 0
  # Nothing to plot without leakage columns: no file, no error.
  assert plots.plot_frontier([{'run': 'a', 'riafi_ratio': '1'}], path=str(tmp_path / 'g.png')) is None
  assert not (tmp_path / 'g.png').exists()

  run = tmp_path / 'runs' / 'r'
  (run / 'victim' / 'defender' / 'class_6').mkdir(parents=True)
  (run / 'victim' / 'defender' / 'class_6' / 'losses.csv').write_text(
      'step,epoch,generator_loss,critic_loss\n1,0,2.0,-1.0\n2,0,1.5,-0.5\n')
  assert plots.defender_loss_files(str(run)) == [
      str(run / 'victim' / 'defender' / 'class_6' / 'losses.csv')]
  loss_plot = plots.plot_defender_losses([str(run), str(tmp_path)], path=str(tmp_path / 'l.png'))
  assert loss_plot and os.path.getsize(loss_plot) > 0
  assert plots.plot_defender_losses([str(tmp_path)], path=str(tmp_path / 'm.png')) is None


def test_sweep_report_links_runs_plots_and_images(tmp_path):
  run = tmp_path / 'runs' / 'defense=anti_gan'
  (run / 'attack' / 'gan').mkdir(parents=True)
  for name in ('round_00001.png', 'round_00002.png'):
    (run / 'attack' / 'gan' / name).write_bytes(b'png')
  (run / 'victim').mkdir()
  (run / 'victim' / 'shared_target_class.png').write_bytes(b'png')
  rows = [{'run': 'defense=anti_gan', 'defense': 'anti_gan', 'target_accuracy': '0.5',
           'riafi_ratio': 0.9}]
  path = sweep_report.write_sweep_report(
      str(tmp_path), rows, [str(tmp_path / 'plots' / 'x.png')],
      configs=[{'defense': 'anti_gan'}], title='Main job', preface=['Read me first.'])
  text = open(path).read()
  assert text.startswith('# Main job\n\nRead me first.\n\n1 runs')
  assert '[defense=anti_gan](runs/defense=anti_gan/report.md)' in text
  assert '| 0.9 |' in text and 'riafi_ratio' in text
  assert '![x.png](plots/x.png)' in text
  assert '![](runs/defense=anti_gan/attack/gan/round_00002.png)' in text
  assert 'round_00001.png' not in text
  assert '![](runs/defense=anti_gan/victim/shared_target_class.png)' in text
  assert 'black-box attacker' not in text  # No column for images no run has.


_ARMS = [{'defense': ['none'], 'attack_num_images': ['4', '8']},
         {'defense': ['dp'], 'dp_noise_multiplier': ['0.5'], 'attack_num_images': ['8']}]
_RUNS = ['defense=none,attack_num_images=4', 'defense=none,attack_num_images=8',
         'defense=dp,dp_noise_multiplier=0.5,attack_num_images=8']


@pytest.fixture(scope='module')
def tiny_sweep(tmp_path_factory):
  repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  out = tmp_path_factory.mktemp('sweep')
  result = sweep.run_sweep(
      output_dir=str(out), base_flagfile=os.path.join(repo_root, 'configs', 'smoke.flags'),
      arms=_ARMS, reference={'defense': 'none'}, parallel=2,
      extra_flags=['--rounds=1', '--central_riafi_epochs=1'],
      plots=[('attack_num_images', 'train_examples'), ('attack_num_images', 'no_such_column')],
      frontier=True, progress=False)
  return out, result, repo_root


def test_tiny_sweep_writes_rows_plots_and_report(tiny_sweep):
  out, result, _ = tiny_sweep
  assert result.failed == [] and result.skipped == []
  with open(out / 'sweep.csv', newline='') as f:
    rows = list(csv.DictReader(f))
  # The DP run's reference is the undefended run with the same other flags,
  # which the sweep already has: three runs, not four.
  assert [r['run'] for r in rows] == _RUNS
  assert [r['defense'] for r in rows] == ['none', 'none', 'dp']
  # 4 clients x 64 images + the injected fakes: the arm's value reached the run.
  assert [int(r['train_examples']) for r in rows[:2]] == [4 * 64 + 4, 4 * 64 + 8]
  assert [r['reference_run'] for r in rows] == [_RUNS[0], _RUNS[1], _RUNS[1]]
  for row in rows:
    assert float(row['gan_adversary.frechet_distance']) >= 0.0
    assert float(row['reference.held_out_real.frechet_distance']) >= 0.0
    assert 0.0 <= float(row['central_riafi']) <= 1.0
    assert 0.0 <= float(row['riafi']) <= 1.0
    reference = rows[_RUNS.index(row['reference_run'])]
    if float(reference['riafi']) > 0:
      assert float(row['riafi_ratio']) == pytest.approx(
          float(row['riafi']) / float(reference['riafi']))
    else:
      assert row['riafi_ratio'] == ''
  assert float(rows[0]['gan_adversary.nn_ssim_ratio']) == pytest.approx(1.0)
  assert (out / 'plots' / 'train_examples_vs_attack_num_images.png').stat().st_size > 0
  assert (out / 'plots' / 'privacy_utility_frontier.png').stat().st_size > 0
  with open(out / 'sweep.json') as f:
    recorded = json.load(f)
  assert recorded['arms'] == _ARMS and recorded['reference'] == {'defense': 'none'}
  report = (out / 'report.md').read_text()
  for name in _RUNS:
    assert f'runs/{name}/report.md' in report
  assert '![train_examples_vs_attack_num_images.png]' in report
  assert '![privacy_utility_frontier.png](plots/privacy_utility_frontier.png)' in report
  assert 'Plot no_such_column against attack_num_images skipped' in report
  assert f'![](runs/{_RUNS[2]}/attack/gan/round_00001.png)' in report
  assert result.report_path == str(out / 'report.md') and result.seconds > 0


def test_rerunning_a_sweep_skips_finished_runs(tiny_sweep):
  out, _, repo_root = tiny_sweep
  again = sweep.run_sweep(
      output_dir=str(out), base_flagfile=os.path.join(repo_root, 'configs', 'smoke.flags'),
      arms=_ARMS, reference={'defense': 'none'},
      extra_flags=['--rounds=1', '--central_riafi_epochs=1'], progress=False)
  assert again.skipped == sorted(_RUNS)
  assert len(again.rows) == 3


def test_shipped_sweeps_are_valid(repo_root):
  """Every configs/sweeps flagfile parses and plans its runs (nothing runs)."""
  script = os.path.join(repo_root, 'bin', 'run_sweep')
  names = sorted(n for n in os.listdir(os.path.join(repo_root, 'configs', 'sweeps'))
                 if n.endswith('.flags'))
  planned = helpers.run_with_cli_module(script, (
      'import json\n'
      'from antigan_tf.experiments import sweep\n'
      'out = {}\n'
      f'for name in {names!r}:\n'
      '  m.flags.FLAGS.unparse_flags()\n'
      '  m.flags.FLAGS(["run_sweep", "--flagfile=configs/sweeps/" + name])\n'
      '  kwargs = m.sweep_kwargs()\n'
      '  kwargs["dry_run"] = True\n'
      '  result = sweep.run_sweep(**kwargs)\n'
      '  out[name] = [r["run"] for r in result.rows]\n'
      'print(json.dumps(out))\n'), cwd=repo_root, timeout=300)
  assert planned['main.flags'] == ['defense=none', 'defense=anti_gan']
  assert planned['main_three_arms.flags'] == [
      'defense=none', 'defense=anti_gan', 'defense=dp,dp_noise_multiplier=0.01']
  assert planned['fig4_lambda2.flags'][-1] == 'defense=none'  # The reference run.
  assert len(planned['fig4_lambda2.flags']) == 6
  assert planned['fig8_10_13_variance_mode.flags'] == [
      'defender_variance_mode=max,defense=anti_gan', 'defender_variance_mode=min,defense=anti_gan',
      'defense=none']
  # 17 points (none, 3 + 1 + 1 Anti-GAN, 4 DP, 2 + 2 + 2 baselines, drop_class) x 3 seeds.
  frontier = planned['frontier.flags']
  assert frontier[0] == 'seed=0,defense=none' and len(frontier) == 17 * 3
  assert sum(r.startswith('seed=0,defense=dp') for r in frontier) == 4
  assert {r.split(',')[1] for r in frontier} == {
      'defense=none', 'defense=anti_gan', 'defense=dp', 'defense=gaussian_blur',
      'defense=gaussian_noise', 'defense=pixelate', 'defense=drop_class'}
  assert len(planned['frontier_full.flags']) == 5 * (1 + 24 + 4 + 5 + 9 + 1)
  assert set(planned) >= {'main_paper_scale.flags', 'fig4_lambda1.flags',
                          'fig6_7_mix_ratio.flags'}
  # The paper's sweeps as arms of one: the separate sweeps' runs, with one
  # reference and the run fig. 4a and 4b share (lambda1 3.92, lambda2 48) once.
  paper = planned['paper.flags']
  assert len(paper) == len(set(paper)) == 24
  assert paper.count('defense=none') == 1
  assert 'defense=anti_gan,defender_lambda1=3.92,defender_lambda2=48' in paper
  for name, runs in planned.items():
    assert len(runs) >= 2, name


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


def test_cli_refuses_a_sweep_directory_in_use_or_a_file(repo_root, tmp_path):
  out = tmp_path / 'sweep'
  out.mkdir()
  blocker = tmp_path / 'file'
  blocker.write_text('x')
  cases = ((out, f"run_sweep: error: Sweep directory '{out}' is in use by pid {os.getpid()}"),
           (blocker, f"run_sweep: error: '{blocker}' exists and is not a directory."))
  with locks.exclusive_lock(layout.SweepLayout(str(out)).lock_file, what='test'):
    for output_dir, message in cases:
      proc = subprocess.run(
          [sys.executable, os.path.join(repo_root, 'bin', 'run_sweep'),
           f'--output_dir={output_dir}', f'--base_flagfile={repo_root}/configs/smoke.flags',
           '--arm=defense=none'],
          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
      assert proc.returncode == 2, proc.stderr[-2000:]
      assert proc.stderr.strip().splitlines()[-1].startswith(message)
  assert sorted(os.listdir(out)) == ['.lock']


def test_collect_row_averages_riafi_over_the_last_rounds(tmp_path):
  run = tmp_path / 'defense=none'
  run.mkdir()
  accuracies = [0.0, 0.9, 0.2, 0.4, 0.6, 0.8, 1.0]
  (run / 'metrics.csv').write_text('round,target_accuracy,test_accuracy\n' + ''.join(
      f'{i + 1},{a},0.5\n' for i, a in enumerate(accuracies)))
  (run / 'hparams.csv').write_text('name,value\ndefense,none\nattacks,gan\n')
  (run / 'utility.json').write_text('{"central_riafi": 0.7}')
  (run / 'leakage.json').write_text('{"black_box": {"nn_ssim_mean": 0.3}}')
  row = sweep.collect_row(str(run), {'seed': '0'})
  assert sweep.RIAFI_ROUNDS == 5
  assert row['riafi'] == pytest.approx((0.2 + 0.4 + 0.6 + 0.8 + 1.0) / 5)
  assert row['target_accuracy'] == '1.0' and row['round'] == '7'
  assert row['run'] == 'defense=none' and row['seed'] == '0' and row['defense'] == 'none'
  assert row['central_riafi'] == 0.7 and row['black_box.nn_ssim_mean'] == 0.3
  assert 'black_box.fd_over_other_class' not in row  # No FD, no ratio.


def test_collect_row_gives_the_fd_ratio_of_the_attackers_and_the_shared_set(tmp_path):
  run = tmp_path / 'defense=anti_gan'
  run.mkdir()
  (run / 'leakage.json').write_text(
      '{"reference.other_class": {"frechet_distance": 10.0}, '
      '"black_box": {"frechet_distance": 4.0}, "victim_shared": {"frechet_distance": 3.0}, '
      '"gan_adversary": {"note": "x"}}')
  row = sweep.collect_row(str(run), {})
  assert row['black_box.fd_over_other_class'] == pytest.approx(0.4)
  assert row['victim_shared.fd_over_other_class'] == pytest.approx(0.3)
  assert 'gan_adversary.fd_over_other_class' not in row


def test_last_phase_reads_the_runs_phase_lines(tmp_path):
  from antigan_tf import layout as layout_lib  # pylint: disable=g-import-not-at-top
  log = tmp_path / 'run.log'
  assert sweep.last_phase(str(log)) == ''  # No log yet.
  log.write_text('I1126 noise\n'
                 f'I1126 training.py:91] {layout_lib.PHASE_MARKER} black-box attacker: 300 steps\n'
                 'W1126 more noise\n'
                 f'I1126 training.py:91] {layout_lib.PHASE_MARKER} FedAvg round 3/15\n'
                 'sweep 10%|#  |\r')
  assert sweep.last_phase(str(log)) == 'FedAvg round 3/15'


def test_frontier_labels_name_the_defense_parameters_and_the_test_accuracy():
  row = {'run': 'defense=anti_gan,defender_lambda2=48,defender_mix_ratio=0.5,seed=1',
         'test_accuracy': '0.442'}
  assert plots._short_label(row, 'defense') == '48,0.5 (acc 0.44)'  # pylint: disable=protected-access
  assert plots._short_label({'run': 'defense=none'}, 'defense') == ''  # pylint: disable=protected-access


def test_values_per_parameter_keeps_the_first_values_of_grid_and_arms(tmp_path, repo_root):
  plan = sweep.run_sweep(
      output_dir=str(tmp_path), base_flagfile=os.path.join(repo_root, 'configs', 'smoke.flags'),
      grid={'seed': [0, 1, 2]},
      arms=[{'defense': ['none']}, {'defense': ['dp'], 'dp_noise_multiplier': ['0.5', '1']}],
      reference={'defense': 'none'}, values_per_parameter=1, dry_run=True)
  assert [r['run'] for r in plan.rows] == [
      'seed=0,defense=none', 'seed=0,defense=dp,dp_noise_multiplier=0.5']
  two = sweep.run_sweep(
      output_dir=str(tmp_path), base_flagfile=os.path.join(repo_root, 'configs', 'smoke.flags'),
      grid={'seed': [0, 1, 2]}, values_per_parameter=2, dry_run=True)
  assert [r['run'] for r in two.rows] == ['seed=0', 'seed=1']
  with pytest.raises(ValueError, match='values_per_parameter'):
    sweep.run_sweep(output_dir=str(tmp_path), base_flagfile=os.path.join(
        repo_root, 'configs', 'smoke.flags'), grid={'seed': [0]}, values_per_parameter=0,
                    dry_run=True)


def test_sweep_report_leads_with_the_reference_rows():
  row = {'run': 'defense=none', 'reference.held_out_real.frechet_distance': 0.01,
         'reference.held_out_real.num_samples': 500, 'reference.black.frechet_distance': 9.5,
         'black_box.frechet_distance': 0.3}
  lines = sweep_report.reference_table([{'run': 'x'}, row])
  table = '\n'.join(lines)
  assert '| held_out_real | 500 | 0.01 |' in table and '| black |  | 9.5 |' in table
  assert sweep_report.reference_table([{'run': 'x'}]) == []


@pytest.mark.parametrize('kwargs, message', [
    ({'grid': {'rounds': ['abc']}}, r"^Run rounds=abc,defense=none: flag --rounds=abc: invalid literal"),
    ({'arms': [{'defense': ['anti_gan'], 'defender_mix_ratio': ['-1']}]},
     r'^Run defense=anti_gan,defender_mix_ratio=-1: --defender_mix_ratio must be finite'),
    ({'extra_flags': ['--output_dir=elsewhere']}, r'--output_dir is set by the sweep itself'),
    ({'extra_flags': ['--overwrite']}, r'--overwrite is set by the sweep itself'),
    ({'extra_flags': ['--nooverwrite']}, r'--overwrite is set by the sweep itself'),
    ({'extra_flags': ['--no_such_flag=1']}, r'--no_such_flag is not a flag of run_tff'),
    ({'extra_flags': ['rounds=2']}, r'must be --name=value'),
    ({'output_dir': 'FILE'}, r'exists and is not a directory'),
])
def test_a_dry_run_refuses_what_a_real_run_would(repo_root, tmp_path, kwargs, message):
  blocker = tmp_path / 'file'
  blocker.write_text('x')
  arguments = {'output_dir': str(tmp_path / 'sweep'), 'arms': [{'defense': ['none']}],
               'base_flagfile': os.path.join(repo_root, 'configs', 'smoke.flags'), **kwargs}
  if arguments['output_dir'] == 'FILE':
    arguments['output_dir'] = str(blocker)
  with pytest.raises(ValueError, match=message):
    sweep.run_sweep(dry_run=True, progress=False, **arguments)
  assert not (tmp_path / 'sweep').exists()
  # The same sweep with good values plans its runs.
  good = sweep.run_sweep(output_dir=str(tmp_path / 'sweep'), dry_run=True, progress=False,
                         base_flagfile=arguments['base_flagfile'], arms=[{'defense': ['none']}],
                         extra_flags=['--rounds=2'])
  assert [r['run'] for r in good.rows] == ['defense=none']
