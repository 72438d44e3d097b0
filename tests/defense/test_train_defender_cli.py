"""`bin/train_defender`: a smoke run on real Fashion-MNIST and bad input."""

import csv
import dataclasses
import glob
import os
import stat
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from antigan_tf import layout
from antigan_tf.defense.config import DefenderConfig
from antigan_tf.utils import locks


def _run_cli(repo_root, *args):
  return subprocess.run(
      [sys.executable, os.path.join(repo_root, 'bin', 'train_defender'), *args],
      capture_output=True, text=True, timeout=600, cwd=repo_root,
  )


def _read_csv(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def _smoke_flags(repo_root):
  flags = {}
  with open(os.path.join(repo_root, 'configs', 'defender_smoke.flags')) as f:
    for line in f:
      line = line.strip()
      if line.startswith('--'):
        name, _, value = line[2:].partition('=')
        flags[name] = value
  return flags


def test_cli_smoke_run_writes_every_output(repo_root, tmp_path):
  out_dir = tmp_path / 'run'
  proc = _run_cli(
      repo_root, f'--flagfile={repo_root}/configs/defender_smoke.flags', f'--output_dir={out_dir}')
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'exported 20 images' in proc.stdout, proc.stdout
  assert stat.S_IMODE(os.stat(out_dir).st_mode) == 0o700  # Private to the user.

  hparams = {r['name']: r['value'] for r in _read_csv(out_dir / 'hparams.csv')}
  assert hparams['max_images'] == '32' and hparams['epochs'] == '1'
  assert hparams['generator_width'] == '4' and hparams['restarts'] == '2'
  assert hparams['dataset'] == 'fashion_mnist' and hparams['target_class'] == '6'
  # Flags the smoke config leaves alone carry DefenderConfig's defaults.
  set_in_config = _smoke_flags(repo_root)
  defaults = DefenderConfig()
  for field in dataclasses.fields(DefenderConfig):
    assert field.name in hparams, field.name
    if field.name not in set_in_config:
      default = getattr(defaults, field.name)
      assert hparams[field.name] == ('' if default is None else str(default)), field.name

  rows = _read_csv(out_dir / 'losses.csv')
  assert [int(r['step']) for r in rows] == [1, 2]  # 32 images, batch 16, 1 epoch.
  assert list(rows[0]) == ['step', 'epoch', 'critic_loss', 'generator_loss', 'gradient_penalty',
                           'wasserstein', 'similarity_loss', 'obfuscation_loss', 'pixel_variance']
  with Image.open(out_dir / 'images' / 'grid_final.png') as grid:
    assert grid.size == (4 * 29 + 1, 4 * 29 + 1) and grid.mode == 'L'  # 16 images of 28 px.
  assert os.path.exists(out_dir / 'images' / 'grid_step_000001.png')
  assert glob.glob(str(out_dir / 'tensorboard' / 'train' / 'events.out.tfevents.*'))
  assert os.path.exists(out_dir / 'checkpoints' / 'checkpoint')
  assert sorted(os.listdir(out_dir / 'defender')) == [
      'critic.keras', 'defender.json', 'generator.keras', 'sim_target.npy']
  with np.load(out_dir / 'obfuscated.npz') as data:
    assert sorted(data.files) == ['x', 'y']
    assert data['x'].shape == (20, 28, 28, 1) and data['x'].dtype == np.float32
    assert np.all(np.isfinite(data['x'])) and np.all(np.abs(data['x']) <= 1.0)
    np.testing.assert_array_equal(data['y'], np.full(20, 6))


@pytest.mark.parametrize(
    'args, message',
    [
        (['--no_such_flag=1'], 'no_such_flag'),
        (['--variance_mode=up'], 'variance_mode'),
        (['--flagfile=/nonexistent/x.flags'], 'x.flags'),
        (['extra_positional'], 'positional'),
        (['--lambda1=-1'], '--lambda1 must be finite and >= 0'),
        (['--max_images=4', '--mix_mode=add', '--mix_ratio=2'],
         '--mix_ratio (2) asks for more real images'),
        (['--max_images=4', '--export_count=5'], '--export_count (5) exceeds --max_images'),
        (['--max_images=4', '--target_class=12'], 'target_class'),
        (['--max_images=4', '--dataset=local', '--data_dir=/nonexistent'], '/nonexistent'),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(repo_root, tmp_path, args, message):
  proc = _run_cli(repo_root, f'--output_dir={tmp_path}', *args)
  assert proc.returncode == 2, proc.stderr[-2000:]
  last_line = proc.stderr.strip().splitlines()[-1]
  assert last_line.startswith('train_defender: error:') and message in last_line, (
      proc.stderr[-2000:])
  assert 'Traceback' not in proc.stderr
  assert not os.listdir(tmp_path)  # Rejected before any output.


def test_cli_requires_output_dir(repo_root):
  proc = _run_cli(repo_root, '--epochs=1')
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines()[-1] == (
      'train_defender: error: --output_dir is required (or set it in the flagfile).')


def test_a_second_process_on_the_output_dir_is_refused(repo_root, tmp_path):
  out_dir = tmp_path / 'run'
  out_dir.mkdir()
  with locks.exclusive_lock(layout.DefenderLayout(str(out_dir)).lock_file, what='test'):
    proc = _run_cli(repo_root, f'--flagfile={repo_root}/configs/defender_smoke.flags',
                    f'--output_dir={out_dir}')
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert proc.stderr.strip().splitlines()[-1].startswith(
      f"train_defender: error: Defender directory '{out_dir}' is in use by pid {os.getpid()}")
  assert sorted(os.listdir(out_dir)) == ['.lock']


def test_an_output_dir_that_is_a_file_is_one_line(repo_root, tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('x')
  proc = _run_cli(repo_root, f'--flagfile={repo_root}/configs/defender_smoke.flags',
                  f'--output_dir={blocker}')
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert proc.stderr.strip().splitlines()[-1] == (
      f"train_defender: error: '{blocker}' exists and is not a directory.")
