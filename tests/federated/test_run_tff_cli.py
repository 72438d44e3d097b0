"""`bin/run_tff` end to end: the smoke flagfile, shipped configs, bad input."""

import csv
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

import helpers
from antigan_tf import layout
from antigan_tf.utils import locks


def _read_csv(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def _run_cli(repo_root, *args):
  return subprocess.run(
      [sys.executable, os.path.join(repo_root, 'bin', 'run_tff'), *args],
      capture_output=True, text=True, timeout=600, cwd=repo_root, stdin=subprocess.DEVNULL,
  )


@pytest.fixture(scope='module')
def smoke_run(tmp_path_factory):
  repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  out_dir = tmp_path_factory.mktemp('cli') / 'run'
  before = set(helpers.worker_pids())
  proc = _run_cli(repo_root, f'--flagfile={repo_root}/configs/smoke.flags',
                  f'--output_dir={out_dir}')
  return dict(proc=proc, out_dir=out_dir, workers_before=before, repo_root=repo_root)


def test_smoke_flagfile_writes_the_metrics_csv_and_outputs(smoke_run):
  proc, out_dir = smoke_run['proc'], smoke_run['out_dir']
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'test accuracy' in proc.stdout
  # The run directory holds the victim's images: private to the user.
  assert stat.S_IMODE(os.stat(out_dir).st_mode) == 0o700
  # Where the GAN training ran is logged (here: no GPU).
  assert 'GAN training (defender, attackers, evaluation network) on CPU' in proc.stderr
  rows = _read_csv(out_dir / 'metrics.csv')
  assert [r['round'] for r in rows] == ['1', '2']
  expected = ['round', 'train_loss', 'train_accuracy', 'train_examples', 'test_loss',
              'test_accuracy', 'target_accuracy'] + [f'accuracy_class_{c}' for c in range(10)]
  assert list(rows[0])[0] == 'round'  # TFF's release manager sorts the rest.
  assert set(expected) <= set(rows[0])
  assert {'adversary_sampled', 'victim_sampled', 'round_seconds', 'attack_active',
          'attack_generator_loss', 'attack_target_confidence', 'attack_seconds'} <= set(rows[0])
  assert all(r['attack_active'] == '1' for r in rows)  # All 4 clients, from round 1.
  hparams = {r['name']: r['value'] for r in _read_csv(out_dir / 'hparams.csv')}
  assert hparams['rounds'] == '2' and hparams['attacks'] == 'gan'
  assert hparams['max_examples_per_client'] == '64'
  assert (out_dir / 'attack' / 'gan' / 'round_00001.png').exists()
  assert os.listdir(out_dir / 'tensorboard')
  assert os.listdir(out_dir / 'program_state')
  with open(out_dir / 'leakage.json') as f:
    assert 'nn_ssim_mean' in json.load(f)['gan_adversary']
  assert 'Leakage' in (out_dir / 'report.md').read_text()
  with open(out_dir / 'utility.json') as f:
    assert 0.0 <= json.load(f)['central_riafi'] <= 1.0
  assert set(helpers.worker_pids()) <= smoke_run['workers_before']


def test_rerun_resumes_and_other_settings_are_refused(smoke_run):
  repo_root, out_dir = smoke_run['repo_root'], smoke_run['out_dir']
  assert smoke_run['proc'].returncode == 0
  again = _run_cli(repo_root, f'--flagfile={repo_root}/configs/smoke.flags',
                   f'--output_dir={out_dir}')
  assert again.returncode == 0, again.stderr[-2000:]
  assert len(_read_csv(out_dir / 'metrics.csv')) == 2  # Nothing re-run.
  other = _run_cli(repo_root, f'--flagfile={repo_root}/configs/smoke.flags',
                   f'--output_dir={out_dir}', '--batch_size=8')
  assert other.returncode == 2
  last_line = other.stderr.strip().splitlines()[-1]
  assert last_line.startswith('run_tff: error:') and 'batch_size (16 -> 8)' in last_line


# Library-level checks (rounds, attacks, DP, ...) are tested in
# test_training.py; these cover each way an error reaches the command line.
_BAD_INPUTS = [
    (['--rounds=2', '--clients_per_round=50'], 'clients_per_round'),
    (['--adversary_classes=6,1'], 'target class'),
    (['--attacks=gan', '--attack_fake_label=6'], 'attack_fake_label'),
    (['--defense=anti_gan', '--defender_lambda2=-1'], 'lambda2'),
    (['--no_such_flag=1'], 'no_such_flag'),
    (['--flagfile=/nonexistent/x.flags'], 'x.flags'),
    (['--rounds=1', '--dataset=local', '--data_dir=/nonexistent'], '/nonexistent'),
    (['extra_positional'], 'positional'),
    # Each rejected before any output, naming the flag as typed (they used to
    # fail after training, after outputs were written, or not at all).
    (['--defense=anti_gan', '--defender_mix_mode=add', '--defender_mix_ratio=2'],
     '--defender_mix_ratio must be <= 1'),
    (['--attacks=gan', '--attack_batch_size=0'], '--attack_batch_size must be an integer >= 1'),
    (['--seed=-1'], '--seed must be an integer >= 0'),
    (['--dp_noise_multiplier=-5'], '--dp_noise_multiplier must be finite and >= 0'),
    (['--dp_clip_norm=1.0'], '--dp_clip_norm applies to --defense=dp only'),
    (['--tff_workers=2', '--tff_worker_addresses=localhost:8000'], 'exclude each other'),
    (['--defense=gaussian_blur', '--gaussian_blur_sigma=0'], '--gaussian_blur_sigma must be'),
    (['--defense=gaussian_noise', '--gaussian_noise_std=-0.1'], '--gaussian_noise_std must be'),
    (['--defense=pixelate', '--pixelate_block=30'], '--pixelate_block must be an integer'),
    (['--defense=drop_class', '--pixelate_block=2'],
     '--pixelate_block applies to --defense=pixelate only'),
    (['--defense=blur'], 'blur'),
]


def test_bad_input_exits_2_with_one_line(repo_root, tmp_path):
  # All cases in one process (TF and TFF imported once): run_tff's own flag
  # parsing and main, as `app.run` calls them; test_unwritable_output_dir_exits_2
  # covers the exit status of a real process.
  results = helpers.run_with_cli_module(os.path.join(repo_root, 'bin', 'run_tff'), (
      'import contextlib, io, json, traceback\n'
      'results = []\n'
      f'for args in {[args for args, _ in _BAD_INPUTS]!r}:\n'
      '  m.FLAGS.unparse_flags()\n'
      '  err = io.StringIO()\n'
      '  status = 0\n'
      '  with contextlib.redirect_stderr(err):\n'
      '    try:\n'
      f'      m.main(m._parse_flags(["run_tff", "--output_dir={tmp_path}", *args]))\n'
      '    except SystemExit as e:\n'
      '      status = e.code\n'
      '    except Exception:\n'
      '      traceback.print_exc()\n'
      '  results.append([status, err.getvalue()])\n'
      'print(json.dumps(results))\n'), cwd=repo_root)
  for (args, message), (status, stderr) in zip(_BAD_INPUTS, results, strict=True):
    assert status == 2, (args, stderr[-2000:])
    # One line from us, and no traceback.
    assert stderr.strip().splitlines() == [stderr.strip().splitlines()[-1]], (args, stderr)
    last_line = stderr.strip().splitlines()[-1]
    assert last_line.startswith('run_tff: error:') and message in last_line, (args, stderr)
    assert 'Traceback' not in stderr
  assert not os.listdir(tmp_path)  # Nothing was written, by any of them.


def test_unwritable_output_dir_exits_2(repo_root, tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('x')
  proc = _run_cli(repo_root, f'--output_dir={blocker}/run', '--rounds=1')
  assert proc.returncode == 2 and 'not writable' in proc.stderr.strip().splitlines()[-1]


def test_helpfull_documents_every_flag(repo_root):
  proc = _run_cli(repo_root, '--helpfull')
  assert proc.returncode in (0, 1), proc.stderr[-2000:]  # absl exits 1 after help.
  script = os.path.join(repo_root, 'bin', 'run_tff')
  code = (
      'import importlib.machinery, sys\n'
      f'm = importlib.machinery.SourceFileLoader("run_tff", {script!r}).load_module()\n'
      'names = [f.name for f in m.FLAGS.get_key_flags_for_module(m)]\n'
      'print(len(names))\n'
      'missing = [n for n in names if not (m.FLAGS[n].help or "").strip()]\n'
      'assert not missing, missing\n')
  check = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=300, stdin=subprocess.DEVNULL)
  assert check.returncode == 0, check.stderr[-2000:]
  assert int(check.stdout.strip().splitlines()[-1]) > 60
  for name in ('--defense', '--attacks', '--defender_lambda1', '--dp_noise_multiplier',
               '--attack_fake_label', '--[no]overwrite'):
    assert name in proc.stdout


def test_every_shipped_config_maps_onto_run_federated(repo_root):
  script = os.path.join(repo_root, 'bin', 'run_tff')
  configs = sorted(n for n in os.listdir(os.path.join(repo_root, 'configs'))
                   if n.endswith('.flags') and not n.startswith('defender_'))
  parsed = helpers.run_with_cli_module(script, (
      'import json\n'
      'out = {}\n'
      f'for name in {configs!r}:\n'
      '  m.FLAGS.unparse_flags()\n'
      f'  m.FLAGS(["run_tff", "--flagfile=" + {repo_root!r} + "/configs/" + name, "--output_dir=unused"])\n'
      '  config = m.experiment_config()\n'
      '  out[name] = [config.federation.dataset, config.defense.defense,\n'
      '               list(config.attack.attacks)]\n'
      'print(json.dumps(out))\n'), cwd=repo_root, timeout=300)
  for dataset in ('fashion_mnist', 'mnist', 'cifar10'):
    for defense in ('none', 'anti_gan', 'dp'):
      name = f'{dataset}_{defense}_vs_attack.flags'
      assert parsed[name] == [dataset, defense, ['gan', 'black_box']], name
  # The long Hitaj run: the main job's flags (a nested flagfile) with the adversary alone.
  assert parsed['hitaj_long.flags'] == ['fashion_mnist', 'none', ['gan']]


def _without_timing(rows):
  return [{k: v for k, v in r.items() if k not in ('round_seconds', 'attack_seconds')}
          for r in rows]


@pytest.mark.parametrize(
    'signum', [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_interrupted_run_leaves_no_worker_and_resumes_to_the_same_metrics(
    smoke_run, tmp_path, signum):
  repo_root = smoke_run['repo_root']
  assert smoke_run['proc'].returncode == 0
  out_dir = tmp_path / 'run'
  args = [sys.executable, os.path.join(repo_root, 'bin', 'run_tff'),
          f'--flagfile={repo_root}/configs/smoke.flags', f'--output_dir={out_dir}']
  before = set(helpers.worker_pids())
  proc = subprocess.Popen(args, cwd=repo_root, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 300
  # Stop it once round 1 is released (round 2 is then under way or starting).
  while time.monotonic() < deadline and proc.poll() is None:
    if (out_dir / 'metrics.csv').exists() and len(_read_csv(out_dir / 'metrics.csv')) >= 1:
      break
    time.sleep(0.2)
  assert proc.poll() is None, 'the run ended before it could be interrupted'
  proc.send_signal(signum)
  proc.wait(timeout=60)
  assert proc.returncode != 0
  assert all(helpers.wait_until_gone(pid) for pid in set(helpers.worker_pids()) - before)
  assert len(_read_csv(out_dir / 'metrics.csv')) < 2

  resumed = _run_cli(repo_root, f'--flagfile={repo_root}/configs/smoke.flags',
                     f'--output_dir={out_dir}')
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert _without_timing(_read_csv(out_dir / 'metrics.csv')) == _without_timing(
      _read_csv(smoke_run['out_dir'] / 'metrics.csv'))


def test_a_killed_worker_stops_the_run_naming_it_and_a_rerun_resumes(smoke_run, tmp_path):
  repo_root = smoke_run['repo_root']
  out_dir = tmp_path / 'run'
  args = [f'--flagfile={repo_root}/configs/smoke.flags', f'--output_dir={out_dir}',
          '--rounds=3', '--tff_workers=2', '--leakage_metrics=false', '--central_riafi_epochs=0']
  before = set(helpers.worker_pids())
  proc = subprocess.Popen([sys.executable, os.path.join(repo_root, 'bin', 'run_tff'), *args],
                          cwd=repo_root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 300
  # Kill a worker once round 1 is checkpointed (round 2 is then under way).
  while time.monotonic() < deadline and proc.poll() is None:
    if list((out_dir / 'program_state').glob('*_1')):
      break
    time.sleep(0.1)
  workers = helpers.descendant_worker_pids(proc.pid)
  assert proc.poll() is None and len(workers) == 2, 'the run ended before a worker was killed'
  os.kill(workers[1], signal.SIGKILL)
  _, err = proc.communicate(timeout=120)
  assert proc.returncode == 1, err[-3000:]
  # Named by its index, socket or port and pid (its relay's, when isolated).
  assert re.search(r'TFF worker \d \(.+, pid \d+\) exited with code -9', err), err[-3000:]
  assert 'resume from the checkpoint of round 1' in err, err[-3000:]
  assert all(helpers.wait_until_gone(pid) for pid in set(helpers.worker_pids()) - before)
  rows_before = _read_csv(out_dir / 'metrics.csv')
  assert 1 <= len(rows_before) < 3

  resumed = _run_cli(repo_root, *args)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'resuming from the checkpoint of round 1' in resumed.stderr
  rows = _read_csv(out_dir / 'metrics.csv')
  assert [int(r['round']) for r in rows] == [1, 2, 3]
  assert rows[0] == rows_before[0]
  assert set(helpers.worker_pids()) <= before


def test_a_second_process_on_a_run_directory_is_refused_before_any_output(repo_root, tmp_path):
  out_dir = tmp_path / 'run'
  out_dir.mkdir()
  # This process holds the run directory, as a running run_tff would.
  with locks.exclusive_lock(layout.RunLayout(str(out_dir)).lock_file, what='test'):
    proc = _run_cli(repo_root, f'--flagfile={repo_root}/configs/smoke.flags',
                    f'--output_dir={out_dir}')
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert proc.stderr.strip().splitlines()[-1] == (
      f"run_tff: error: Run directory '{out_dir}' is in use by pid {os.getpid()}: wait for it "
      'to finish, or use another output directory.')
  assert sorted(os.listdir(out_dir)) == ['.lock']  # Nothing written.


def test_a_stray_label_in_local_data_is_one_line_naming_the_labels(repo_root, tmp_path):
  rng = np.random.default_rng(0)
  y = np.concatenate([np.repeat(np.arange(10), 20), [255]])
  np.savez(tmp_path / 'data.npz', x=rng.integers(0, 256, (len(y), 28, 28), np.uint8), y=y)
  proc = _run_cli(repo_root, f'--flagfile={repo_root}/configs/smoke.flags', '--dataset=local',
                  f'--data_dir={tmp_path / "data.npz"}', f'--output_dir={tmp_path / "run"}')
  assert proc.returncode == 2, proc.stderr[-2000:]
  last_line = proc.stderr.strip().splitlines()[-1]
  assert last_line.startswith('run_tff: error: ')
  assert 'labels found (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 255)' in last_line
  assert '--num_classes' in last_line
  assert not (tmp_path / 'run').exists()
