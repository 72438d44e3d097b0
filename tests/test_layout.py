"""`antigan_tf.layout`: the names of a run's, a sweep's and a defender
directory's files, as documented (docs/experiments-and-sweeps.md). A rename
here is a change users see: this test pins every name."""

import os

from antigan_tf import layout


def _rel(root, path):
  return os.path.relpath(path, root)


def test_run_layout_names():
  run = layout.RunLayout('r')
  names = {
      'hparams.csv': run.hparams_csv, 'metrics.csv': run.metrics_csv,
      'leakage.json': run.leakage_json, 'utility.json': run.utility_json,
      'report.md': run.report_md, 'tensorboard': run.tensorboard_dir,
      'program_state': run.state_dir, 'client_store': run.client_store_dir,
      'victim': run.victim_dir, 'victim/real_target_class.png': run.real_target_grid,
      'victim/shared_target_class.png': run.shared_target_grid,
      'victim/shared.npz': run.shared_cache, 'victim/defender': run.defender_dir,
      'victim/defender/class_6': run.defender_class_dir(6),
      'attack/gan': run.gan_attack_dir, 'attack/gan/round_00012.png': run.gan_round_grid(12),
      'attack/gan/latest.npz': run.gan_latest_npz, 'attack/black_box': run.black_box_dir,
      'attack/gan/samples_00012.npz': run.gan_round_samples(12),
      'attack/gan/leakage_curve.csv': run.gan_leakage_curve_csv,
      'attack/black_box/reconstructions.npz': run.black_box_npz,
      'attack/black_box/reconstructions.png': run.black_box_grid,
  }
  for expected, path in names.items():
    assert _rel('r', path) == os.path.join(*expected.split('/')), expected
  assert set(run.OUTPUTS) == {'hparams.csv', 'metrics.csv', 'tensorboard', 'program_state',
                              'client_store', 'victim', 'attack', 'leakage.json',
                              'utility.json', 'report.md'}


def test_run_layout_finds_what_a_run_wrote(tmp_path):
  run = layout.RunLayout(str(tmp_path))
  assert run.last_gan_grid_rel() is None and run.defender_loss_csvs() == []
  os.makedirs(run.gan_attack_dir)
  for round_num in (2, 10):
    open(run.gan_round_grid(round_num), 'w').close()
  assert run.last_gan_grid_rel() == os.path.join('attack', 'gan', 'round_00010.png')
  assert run.gan_sample_rounds() == []
  for round_num in (10, 3):
    open(run.gan_round_samples(round_num), 'w').close()
  assert run.gan_sample_rounds() == [3, 10]
  os.makedirs(run.defender_class_dir(6))
  open(os.path.join(run.defender_class_dir(6), 'losses.csv'), 'w').close()
  assert run.defender_loss_csvs() == [os.path.join(run.defender_class_dir(6), 'losses.csv')]
  assert run.pngs_rel(run.GAN_ATTACK_REL) == [
      os.path.join('attack', 'gan', 'round_00002.png'),
      os.path.join('attack', 'gan', 'round_00010.png')]


def test_sweep_and_defender_layout_names():
  sweep = layout.SweepLayout('s')
  assert [_rel('s', p) for p in (sweep.sweep_json, sweep.sweep_csv, sweep.report_md,
                                 sweep.runs_dir, sweep.run_log('a'), sweep.plots_dir)] == [
      'sweep.json', 'sweep.csv', 'report.md', 'runs', os.path.join('runs', 'a.log'), 'plots']
  assert sweep.run('a').root == os.path.join('s', 'runs', 'a')
  assert sweep.run_rel('a', 'report.md') == os.path.join('runs', 'a', 'report.md')
  defender = layout.DefenderLayout('d')
  assert [_rel('d', p) for p in (
      defender.checkpoint_dir, defender.checkpoint_config, defender.tensorboard_dir,
      defender.images_dir, defender.losses_csv, defender.hparams_csv,
      defender.saved_defender_dir, defender.obfuscated_npz)] == [
      'checkpoints', os.path.join('checkpoints', 'defender_config.json'), 'tensorboard',
      'images', 'losses.csv', 'hparams.csv', 'defender', 'obfuscated.npz']
  assert _rel('d', defender.saved_in_run_dir) == 'saved'
  assert layout.defender_class_dir('w', 3) == os.path.join('w', 'class_3')


def test_phase_lines_are_found_in_a_log():
  line = f'I1201 12:00:00 rounds.py:1] {layout.PHASE_MARKER} FedAvg round 3/5'
  assert layout.PHASE_LINE.findall(line) == ['FedAvg round 3/5']
