"""Notebook helpers: running a CLI with its output shown, tables and images."""

import csv
import json
import os

import numpy as np
import pytest
from matplotlib import image as mpimg

from antigan_tf.experiments import notebook
from antigan_tf.gan import save_image_grid


def _png_shape(image, tmp_path):
  path = tmp_path / 'shown.png'
  path.write_bytes(image.data)
  return mpimg.imread(path).shape


def test_run_cli_streams_output_and_reports_failures(tmp_path, capsys):
  script = tmp_path / 'tool'
  script.write_text(
      'import os, sys\n'
      'print("progress 50%", end="\\r", flush=True)\n'
      'print("progress 100%")\n'
      'print("backend", os.environ["MPLBACKEND"])\n'
      'print("problem", file=sys.stderr)\n'
      'sys.exit(int(sys.argv[1]))\n')
  notebook.run_cli(str(script), '0')
  out = capsys.readouterr().out
  assert 'progress 50%\rprogress 100%\n' in out  # Carriage returns kept for progress bars.
  assert 'backend Agg' in out and 'problem' in out  # stderr is shown too.
  with pytest.raises(notebook.CommandError, match='exited with status 3') as error:
    notebook.run_cli(str(script), '3', cwd=str(tmp_path))
  assert str(error.value).endswith('progress 100%\nbackend Agg\nproblem')
  with pytest.raises(notebook.CommandError, match='status 2'):
    notebook.run_cli(str(tmp_path / 'missing_tool'))


def _write_sweep(tmp_path):
  rows = [{'run': 'defense=none', 'defense': 'none', 'riafi': '0.5', 'riafi_ratio': '1.0',
           'test_accuracy': '0.61234567', 'black_box.nn_ssim_mean': ''},
          {'run': 'defense=anti_gan', 'defense': 'anti_gan', 'riafi': '0.25',
           'riafi_ratio': '0.5', 'test_accuracy': '0.6', 'black_box.nn_ssim_mean': ''}]
  with open(tmp_path / 'sweep.csv', 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def test_sweep_table_shows_the_report_columns_with_values(tmp_path):
  _write_sweep(tmp_path)
  table = notebook.sweep_table(str(tmp_path)).data.splitlines()
  assert table[0] == '| run | defense | test_accuracy | riafi | riafi_ratio |'
  assert table[2] == '| defense=none | none | 0.6123 | 0.5 | 1 |'  # 4 significant digits.
  chosen = notebook.sweep_table(str(tmp_path), ['riafi']).data.splitlines()
  assert chosen[3] == '| defense=anti_gan | 0.25 |'
  with pytest.raises(FileNotFoundError, match='has the sweep run'):
    notebook.sweep_rows(str(tmp_path / 'nothing'))


@pytest.mark.tff  # Arms are expanded by the sweep (the federated part).
def test_arm_rows_are_the_runs_of_one_arm(tmp_path):
  _write_sweep(tmp_path)
  (tmp_path / 'sweep.json').write_text(json.dumps(
      {'grid': {}, 'arms': [{'defense': ['none']}, {'defense': ['anti_gan']}]}))
  assert [r['run'] for r in notebook.arm_rows(str(tmp_path), 1)] == ['defense=anti_gan']
  assert [r['run'] for r in notebook.arm_rows(str(tmp_path), 0)] == ['defense=none']
  with pytest.raises(IndexError, match='has 2 arms'):
    notebook.arm_rows(str(tmp_path), 2)
  shown = notebook.table(notebook.arm_rows(str(tmp_path), 1), ['riafi']).data
  assert shown.splitlines()[2] == '| defense=anti_gan | 0.25 |'


def test_reference_summary_and_verdict_tables(tmp_path):
  rows = [{'run': 'defense=none', 'defense': 'none',
           'reference.held_out_real.frechet_distance': '0.15',
           'reference.other_class.frechet_distance': '10.5'}]
  with open(tmp_path / 'sweep.csv', 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  references = notebook.reference_table(str(tmp_path)).data
  assert '| held_out_real |' in references and '| other_class |' in references
  with pytest.raises(FileNotFoundError, match='sweep over seeds'):
    notebook.summary_table(str(tmp_path))
  points = [{'point': 'defense=none', 'defense': 'none', 'num_seeds': '3', 'seeds': '0,1,2',
             'riafi_ratio': '1', 'test_accuracy_ratio': '1', 'black_box.frechet_distance': '2',
             'black_box.frechet_distance_ci95': '0.5'},
            {'point': 'defense=anti_gan', 'defense': 'anti_gan', 'num_seeds': '3',
             'seeds': '0,1,2', 'riafi_ratio': '0.95', 'test_accuracy_ratio': '1.02',
             'black_box.frechet_distance': '4', 'black_box.frechet_distance_ci95': '1'}]
  with open(tmp_path / 'sweep_summary.csv', 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(points[0]))
    writer.writeheader()
    writer.writerows(points)
  assert '| defense=anti_gan | 3 |' in notebook.summary_table(str(tmp_path)).data
  verdict = notebook.verdict_table(str(tmp_path)).data.splitlines()
  assert verdict[0] == '## Verdict'
  ranked = [line.split(' | ')[0] for line in verdict if line.startswith('| ')][2:]
  assert ranked == ['| anti_gan', '| none']  # FD 4 leaks less than 2.


def test_run_images_and_show_images_line_up_captions(tmp_path):
  images = np.zeros((4, 8, 8, 1), np.float32)
  plain = tmp_path / 'plain'
  defended = tmp_path / 'defended'
  save_image_grid(images, str(plain / 'victim' / 'real_target_class.png'))
  save_image_grid(images, str(defended / 'victim' / 'real_target_class.png'))
  save_image_grid(images, str(defended / 'victim' / 'shared_target_class.png'))
  save_image_grid(images, str(defended / 'attack' / 'gan' / 'round_00001.png'))
  save_image_grid(images, str(defended / 'attack' / 'gan' / 'round_00002.png'))
  found = notebook.run_images(str(defended))
  assert list(found) == ["victim's real images (target class)", 'victim shares (target class)',
                         'GAN adversary, last round']
  assert found['GAN adversary, last round'].endswith('round_00002.png')
  shown = notebook.show_images({'plain': notebook.run_images(str(plain)), 'defended': found},
                               panel_size=1.0)
  height, width, _ = _png_shape(shown, tmp_path)
  assert width > height  # 2 rows of 3 columns.
  with pytest.raises(ValueError, match='No image'):
    notebook.show_images({'empty': {}})


def test_plot_rounds_draws_the_columns_some_run_has(tmp_path):
  for name, losses in (('a', ['1.0', '0.5']), ('b', ['2.0', '1.5'])):
    os.makedirs(tmp_path / name)
    with open(tmp_path / name / 'metrics.csv', 'w', newline='') as f:
      writer = csv.writer(f)
      writer.writerow(['round', 'train_loss', 'test_accuracy'])
      writer.writerows([[1, losses[0], '0.1'], [2, losses[1], '']])
  image = notebook.plot_rounds({'a': str(tmp_path / 'a'), 'b': str(tmp_path / 'b')})
  height, width, _ = _png_shape(image, tmp_path)
  assert width > 1.5 * height  # Two panels side by side: train_loss, test_accuracy.
  with pytest.raises(ValueError, match='None of'):
    notebook.plot_rounds({'a': str(tmp_path / 'a')}, columns=('attack_generator_loss',))


def test_show_plot_reads_the_png_or_says_it_is_missing(tmp_path):
  path = save_image_grid(np.zeros((1, 8, 8, 1), np.float32), str(tmp_path / 'p.png'))
  assert notebook.show_plot(path).data[:8] == b'\x89PNG\r\n\x1a\n'
  with pytest.raises(FileNotFoundError):
    notebook.show_plot(str(tmp_path / 'missing.png'))
