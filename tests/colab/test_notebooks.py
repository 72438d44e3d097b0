"""The notebooks in colab/: committed without outputs, with a badge, a set-up
cell and a parameters cell; each executes top to bottom at the tiny scale on a
kernel of this environment (as CI does), and writes what it promises."""

import csv
import os
import platform
import re
import sys

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

import helpers
from antigan_tf.utils import keras_compat
from antigan_tf.utils import stacks

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLAB_DIR = os.path.join(REPO_ROOT, 'colab')
sys.path.insert(0, COLAB_DIR)
import project_env  # pylint: disable=g-import-not-at-top,wrong-import-position
NOTEBOOKS = ('quickstart.ipynb', 'integrating_the_defense.ipynb', 'reproducing_the_paper.ipynb')
_CELL_TIMEOUT_S = 900


def _read(name):
  return nbformat.read(os.path.join(COLAB_DIR, name), as_version=4)


def test_the_colab_folder_holds_exactly_the_three_notebooks():
  assert sorted(n for n in os.listdir(COLAB_DIR) if n.endswith('.ipynb')) == sorted(NOTEBOOKS)


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_notebook_is_stripped_and_has_badge_setup_and_parameters(name):
  nb = _read(name)
  nbformat.validate(nb)
  code = [c for c in nb.cells if c.cell_type == 'code']
  for cell in code:
    assert cell.outputs == [] and cell.execution_count is None, 'outputs are committed'
  intro = nb.cells[0]
  assert intro.cell_type == 'markdown'
  assert 'colab-badge.svg' in intro.source
  assert f'/blob/main/colab/{name})' in intro.source
  # The set-up cell comes first and installs only where the kernel lacks the
  # project: the integrating notebook's plain-TF part in this kernel (its
  # %%federated cells elsewhere), the others' all in a Python 3.11 kernel.
  assert "find_spec('antigan_tf') is None" in code[0].source
  if name == 'integrating_the_defense.ipynb':
    assert 'project_env.enable_federated_cells(REPO_DIR)' in code[0].source
    assert "[sys.executable, '-m', 'pip', 'install', '--quiet', REPO_DIR]" in code[0].source
  else:
    assert 'project_env.setup(REPO_DIR)' in code[0].source
  parameters = [c for c in code if 'parameters' in c.metadata.get('tags', [])]
  assert len(parameters) == 1
  assert "os.environ.get('ANTIGAN_NB_SCALE'" in parameters[0].source
  assert "os.environ.get('ANTIGAN_NB_OUTPUT_DIR'" in parameters[0].source
  assert code.index(parameters[0]) == 1
  assert any('devices.training_devices_line()' in c.source for c in code)


def _execute(name, output_dir, monkeypatch):
  monkeypatch.setenv('ANTIGAN_NB_SCALE', 'tiny')
  monkeypatch.setenv('ANTIGAN_NB_OUTPUT_DIR', str(output_dir))
  before = set(helpers.worker_pids())
  nb = _read(name)
  # 'python3' resolves to this interpreter: the kernel has the project installed.
  NotebookClient(nb, kernel_name='python3', timeout=_CELL_TIMEOUT_S,
                 resources={'metadata': {'path': REPO_ROOT}}).execute()
  assert set(helpers.worker_pids()) <= before  # No TFF worker left running.
  return nb


def _outputs(nb, output_type):
  return [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs
          if o.output_type == output_type]


def _text(nb):
  return ''.join(o.text for o in _outputs(nb, 'stream'))


def _png_count(nb):
  return sum('image/png' in o.data for t in ('display_data', 'execute_result')
             for o in _outputs(nb, t))


def _sweep_runs(sweep_dir):
  with open(os.path.join(sweep_dir, 'sweep.csv'), newline='') as f:
    return [row['run'] for row in csv.DictReader(f)]


@pytest.mark.tff
def test_quickstart_executes(tmp_path, monkeypatch):
  nb = _execute('quickstart.ipynb', tmp_path, monkeypatch)
  text = _text(nb)
  assert 'set-up skipped' in text
  assert 'GAN training (defender, attackers, evaluation network) on CPU' in text
  assert _sweep_runs(tmp_path / 'quickstart') == [
      'defense=none', 'defense=anti_gan', 'defense=dp,dp_noise_multiplier=0.01']
  references = [o.data['text/markdown'] for o in _outputs(nb, 'display_data')
                if 'text/markdown' in o.data]
  assert len(references) == 1
  for name in ('held_out_real', 'other_class', 'uniform_noise', 'black'):
    assert f'| {name} |' in references[0]
  tables = [o.data['text/markdown'] for o in _outputs(nb, 'execute_result')
            if 'text/markdown' in o.data]
  assert len(tables) == 1 and '| defense=dp,dp_noise_multiplier=0.01 |' in tables[0]
  header = tables[0].splitlines()[0]
  for column in ('riafi_ratio', 'test_accuracy_ratio', 'black_box.fd_over_other_class',
                 'victim_shared.saturated_share_x_prime',
                 'victim_shared.mean_pairwise_ssim_x_prime'):
    assert f'| {column} |' in header
  assert _png_count(nb) == 3  # Image grids, per-round curves, defender losses.
  run = tmp_path / 'quickstart' / 'runs' / 'defense=anti_gan'
  assert (run / 'victim' / 'real_target_class.png').exists()
  assert (run / 'victim' / 'shared_target_class.png').exists()


def test_integrating_the_defense_executes(tmp_path, monkeypatch):
  # On both stacks. Its plain-TF part runs in a kernel of this Python (on the
  # modern stack: 3.12, TF 2.21, Keras 3 or tf-keras, as on Colab), its
  # %%federated cells in a Python with TFF: this one, or the TFF stack's.
  if not stacks.has_tff():
    assert os.environ.get(project_env.FEDERATED_PYTHON_VARIABLE), (
        f'Without TFF here, ${project_env.FEDERATED_PYTHON_VARIABLE} must name a Python with '
        'TFF (make test-modern sets it to the TFF stack\'s).')
  before = set(helpers.kernel_pids())
  nb = _execute('integrating_the_defense.ipynb', tmp_path, monkeypatch)
  text = _text(nb)
  assert 'victim: 64 images of class 6' in text
  # Its TFF cells ran in a kernel of their own, on the TFF stack, from the files.
  assert re.search(r'%%federated cells run in Python 3\.(9|10|11)\.\d+ with TFF 0\.87\.0\.',
                   text)
  assert 'victim: 64 real and 64 shared images; 3 other clients' in text
  assert text.count('after 2 rounds: train loss') == 2  # Undefended and defended FedAvg.
  assert 'RIAFI undefended' in text and 'test accuracy' in text
  with np.load(tmp_path / 'integrating' / 'x_prime.npz') as exported:
    # The tiny defender mixes in real images at MR 0.5 by replacing: 64 shared,
    # round(64 / 1.5) = 43 generated and 21 real.
    assert exported['x'].shape == (64, 28, 28, 1) and exported['y'].shape == (64,)
    assert set(exported['y'].tolist()) == {6}
    assert np.abs(exported['x']).max() <= 1.0
  assert (tmp_path / 'integrating' / 'defender' / 'losses.csv').exists()
  assert _png_count(nb) == 1
  assert f'Python {platform.python_version()}, Keras {keras_compat.KERAS_VERSION}' in text
  # The %%federated kernel ended with the notebook's.
  assert helpers.wait_until_no_new_kernels(before)


@pytest.mark.tff
def test_reproducing_the_paper_executes(tmp_path, monkeypatch):
  nb = _execute('reproducing_the_paper.ipynb', tmp_path, monkeypatch)
  paper = tmp_path / 'paper'
  # configs/sweeps/paper.flags at the first value of each arm: one run per arm,
  # the undefended one being every run's reference.
  assert _sweep_runs(paper) == [
      'defense=none', 'defense=anti_gan,defender_lambda1=0,defender_lambda2=48',
      'defense=anti_gan,defender_lambda1=3.92,defender_lambda2=0',
      'defense=anti_gan,defender_mix_ratio=0', 'defense=anti_gan,defender_variance_mode=max',
      'defense=anti_gan,defender_lambda2=12,defender_mix_ratio=0',
      'defense=dp,dp_noise_multiplier=0.1']
  with open(paper / 'sweep.csv', newline='') as f:
    assert {row['reference_run'] for row in csv.DictReader(f)} == {'defense=none'}
  drawn = sorted(os.listdir(paper / 'plots'))
  assert 'arm1_riafi_ratio_vs_defender_lambda1.png' in drawn
  assert 'arm3_black_box.nn_ssim_ratio_vs_defender_mix_ratio.png' in drawn
  assert {'arm4_defender_losses.png', 'privacy_utility_frontier.png'} <= set(drawn)
  tables = [o.data['text/markdown'] for o in _outputs(nb, 'display_data')
            if 'text/markdown' in o.data]
  # One per figure (4a, 4b, 6/7, 8/10/13 and DP), then the frontier's
  # reference rows, verdict and seed summary.
  assert len(tables) == 8
  assert '| defense=dp,dp_noise_multiplier=0.1 | 0.1 |' in tables[4]
  assert '| held_out_real |' in tables[5] and '| uniform_noise |' in tables[5]
  assert tables[6].startswith('## Verdict') and 'black_box, riafi_ratio >= 0.9' in tables[6]
  assert '| defense=anti_gan | 2 |' in tables[7]
  assert '±' in tables[7]  # Means with their intervals.
  # The frontier sweep: 2 seeds of 2 points, each against its seed's reference.
  frontier = tmp_path / 'frontier'
  with open(frontier / 'sweep.csv', newline='') as f:
    rows = list(csv.DictReader(f))
  assert [r['run'] for r in rows] == [
      f'seed={s},{point}' for point in ('defense=none', 'defense=anti_gan') for s in (0, 1)]
  assert [r['reference_run'] for r in rows] == ['seed=0,defense=none', 'seed=1,defense=none'] * 2
  # The adaptive attacker inverted the defended runs' samples; undefended, it
  # is the black-box attacker and says so.
  for row in rows:
    assert float(row['adaptive_black_box.frechet_distance']) >= 0
    if row['defense'] == 'none':
      assert row['adaptive_black_box.frechet_distance'] == row['black_box.frechet_distance']
      assert row['adaptive_black_box.note'].startswith('the defense shares the real images')
  assert 'adaptive_black_box, riafi_ratio >= 0.9' in tables[6]
  assert {os.path.basename(p) for p in (frontier / 'plots').iterdir()} >= {
      'privacy_utility_frontier.png', 'privacy_utility_frontier_central.png'}
  # 2 + 2 + 3 plots, the MR and variance runs' images, Fig. 13, the two
  # frontiers, the defended runs' images with the adaptive attacker's.
  assert _png_count(nb) == 13
