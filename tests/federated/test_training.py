"""A short real FedAvg run on Fashion-MNIST, and the `bin/run_tff` CLI."""

import csv
import math
import os
import subprocess
import sys

import pytest

import helpers
from antigan_tf.federated import training

_TINY = dict(
    num_clients=4,
    clients_per_round=3,
    rounds=2,
    batch_size=16,
    max_examples_per_client=64,
    max_test_examples=200,
    progress=False,
)


def _read_csv(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def test_run_fedavg_on_real_fashion_mnist_writes_metrics(tmp_path):
  before = set(helpers.worker_pids())
  result = training.run_fedavg(output_dir=str(tmp_path), **_TINY)
  rows = _read_csv(tmp_path / 'metrics.csv')
  assert [int(r['round']) for r in rows] == [1, 2]
  for row in rows:
    for key in ('train_loss', 'test_loss', 'test_accuracy', 'target_accuracy'):
      assert math.isfinite(float(row[key])), key
    assert 0.0 <= float(row['test_accuracy']) <= 1.0
    assert int(row['train_examples']) == 3 * 64  # 3 sampled clients, 64 each.
  # Two rounds of SGD on real data lower the training loss.
  assert float(rows[1]['train_loss']) < float(rows[0]['train_loss'])
  assert result.final_metrics['round'] == 2
  hparams = {r['name']: r['value'] for r in _read_csv(tmp_path / 'hparams.csv')}
  assert hparams['num_clients'] == '4' and hparams['dataset'] == 'fashion_mnist'
  assert set(helpers.worker_pids()) <= before  # The run's worker is gone.


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'clients_per_round': 5}, 'clients_per_round'),
        ({'rounds': 0}, 'rounds'),
        ({'client_learning_rate': float('nan')}, 'client_learning_rate'),
        ({'adversary_classes': (6, 1)}, 'target'),
        ({'dataset': 'imagenet'}, 'imagenet'),
    ],
)
def test_run_fedavg_rejects_bad_arguments(tmp_path, kwargs, message):
  with pytest.raises(ValueError, match=message):
    training.run_fedavg(output_dir=str(tmp_path), **{**_TINY, **kwargs})


def _run_cli(repo_root, *args):
  return subprocess.run(
      [sys.executable, os.path.join(repo_root, 'bin', 'run_tff'), *args],
      capture_output=True, text=True, timeout=600, cwd=repo_root,
  )


def test_cli_smoke_writes_hparams_and_metrics_csv(repo_root, tmp_path):
  out_dir = tmp_path / 'run'
  proc = _run_cli(
      repo_root, f'--flagfile={repo_root}/configs/smoke.flags', f'--output_dir={out_dir}'
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'test accuracy' in proc.stdout
  rows = _read_csv(out_dir / 'metrics.csv')
  assert len(rows) == 2
  expected = {'round', 'train_loss', 'train_accuracy', 'test_loss', 'test_accuracy',
              'target_accuracy', 'accuracy_class_6', 'victim_sampled', 'round_seconds'}
  assert expected <= set(rows[0])
  hparams = {r['name']: r['value'] for r in _read_csv(out_dir / 'hparams.csv')}
  assert hparams['rounds'] == '2' and hparams['max_examples_per_client'] == '64'


@pytest.mark.parametrize(
    'args, message',
    [
        (['--rounds=2', '--clients_per_round=50'], 'clients_per_round'),
        (['--no_such_flag=1'], 'no_such_flag'),
        (['--flagfile=/nonexistent/x.flags'], 'x.flags'),
        (['--rounds=1', '--dataset=local', '--data_dir=/nonexistent'], '/nonexistent'),
        (['extra_positional'], 'positional'),
    ],
)
def test_cli_bad_input_exits_2_with_message(repo_root, tmp_path, args, message):
  proc = _run_cli(repo_root, f'--output_dir={tmp_path}', *args)
  assert proc.returncode == 2, proc.stderr[-2000:]
  # One line from us (TF itself may log before it), and no traceback.
  last_line = proc.stderr.strip().splitlines()[-1]
  assert last_line.startswith('run_tff: error:') and message in last_line, proc.stderr[-2000:]
  assert 'Traceback' not in proc.stderr
