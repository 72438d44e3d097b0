"""`report.md` of a sweep: the runs' table, the plots and each run's image grids
side by side, with links relative to the sweep directory. Plain Python.
"""

import collections
import os
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from antigan_tf import layout as layout_lib
from antigan_tf.experiments import plots as plots_lib
from antigan_tf.experiments import verdict as verdict_lib
from antigan_tf.metrics import class_leakage
from antigan_tf.metrics import report as report_lib
from antigan_tf.utils.io import write_text_atomic

# A run's RIAFI is its target-class test accuracy averaged over its last
# rounds: with one-class clients the global model's per-class accuracy swings
# from round to round, and one round would make the ratio a coin toss.
RIAFI_ROUNDS = 5


# Columns of the report's table, in this order, when the rows have them.
REPORT_COLUMNS = (
    'defense', 'test_accuracy', 'riafi', 'target_precision', 'riafi_ratio', 'central_riafi',
    'central_target_precision', 'central_riafi_ratio', 'central_balanced_riafi_ratio',
    'gan_adversary.frechet_distance', 'gan_adversary.fd_over_other_class', 'gan_adversary.kid',
    'gan_adversary.nn_ssim_mean',
    'black_box.frechet_distance', 'black_box.fd_over_other_class', 'black_box.kid',
    'black_box.nn_ssim_mean',
    'adaptive_gan_adversary.fd_over_other_class', 'adaptive_black_box.fd_over_other_class',
    'adaptive_victim_shared.fd_over_other_class',
    'victim_shared.fd_over_other_class', 'victim_shared.saturated_share_x_prime',
    'victim_shared.mean_pairwise_ssim_x_prime', 'victim_shared.nn_ssim_mean')
# The reference rows' columns in the sweep report.
REFERENCE_COLUMNS = ('num_samples', *class_leakage.HEADLINE_METRICS)
_REFERENCE_PREFIX = class_leakage.REFERENCE_PREFIX
# A run's image grids shown side by side: (caption, path or directory).
RUN_IMAGES = (
    ('victim\'s real images (target class)', layout_lib.RunLayout.REAL_TARGET_GRID_REL),
    ('victim shares (target class)', layout_lib.RunLayout.SHARED_TARGET_GRID_REL),
    ('GAN adversary, last round', layout_lib.RunLayout.GAN_ATTACK_REL),
    ('black-box attacker', layout_lib.RunLayout.BLACK_BOX_GRID_REL),
    ('adaptive attacker: the black-box samples inverted',
     layout_lib.RunLayout.adaptive_grid_rel('black_box', 'after')),
)


def report_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
  """The `REPORT_COLUMNS` that have a value in some row, in that order."""
  return [c for c in REPORT_COLUMNS if any(r.get(c) not in (None, '') for r in rows)]


def run_image(run_dir: str, relative: str) -> Optional[str]:
  """`relative` (the GAN adversary's newest round grid for its directory) if the run has it."""
  run = layout_lib.RunLayout(run_dir)
  if relative == run.GAN_ATTACK_REL:
    return run.last_gan_grid_rel()
  return relative if os.path.exists(os.path.join(run_dir, relative)) else None


def reference_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
  """Markdown lines: the reference rows of the first run that has them (they
  depend on the dataset and target class only; every run scores against them)."""
  row = next((r for r in rows if any(k.startswith(_REFERENCE_PREFIX) for k in r)), None)
  if row is None:
    return []
  names = list(collections.OrderedDict.fromkeys(
      k[len(_REFERENCE_PREFIX):].rsplit('.', 1)[0] for k in row if k.startswith(_REFERENCE_PREFIX)))
  table = [[name, *[row.get(f'{_REFERENCE_PREFIX}{name}.{c}', '') for c in REFERENCE_COLUMNS]]
           for name in names]
  return ['Reference rows (in each run\'s leakage.json): held-out real images are a perfect '
          'attacker, noise, blobs and black images leak nothing. `*.fd_over_other_class`: an '
          'attacker\'s Fréchet distance over the other-class row\'s.', '',
          report_lib.markdown_table(['reference', *REFERENCE_COLUMNS], table), '']


def seed_summary_table(summary: Sequence[Mapping[str, Any]]) -> list[str]:
  """Markdown lines: each point's `REPORT_COLUMNS` as mean +- 95% half-width."""
  if not summary:
    return []
  columns = [c for c in report_columns(summary) if c != 'defense']

  return [f'Mean ± 95% interval (Student\'s t) over each point\'s seeds '
          f'([{layout_lib.SweepLayout.SWEEP_SUMMARY_CSV}]'
          f'({layout_lib.SweepLayout.SWEEP_SUMMARY_CSV})):', '',
          report_lib.markdown_table(
              ['point', 'seeds', *columns],
              [[p['point'], p['num_seeds'], *[_mean_and_interval(p, c) for c in columns]]
               for p in summary]),
          '']


def verdict_table(summary: Sequence[Mapping[str, Any]]) -> list[str]:
  """Markdown lines: per attacker and utility axis (federated, central RIAFI
  ratio; both with the test-accuracy floor), each defense's least leaky point
  at the floors, least leaky first (`verdict.least_leaking_at_utility`)."""
  parts = []
  for attacker in plots_lib.ATTACKERS:
    leakage = f'{attacker}.frechet_distance'
    for floors in (verdict_lib.FEDERATED_FLOORS, verdict_lib.CENTRAL_FLOORS):
      if not any(all(plots_lib.as_number(p.get(c)) is not None for c in (*floors, leakage))
                 for p in summary):
        continue
      also = (f'{attacker}.fd_over_other_class', f'{attacker}.kid')
      rows = verdict_lib.least_leaking_at_utility(
          summary, leakage=leakage, floors=floors, also=also)
      columns = (*floors, leakage, *also)
      condition = ' and '.join(f'{c} >= {f:g}' for c, f in floors.items())
      parts += [f'**{attacker}, {condition}:** each defense\'s least leaky point whose means '
                'reach the floors, least leaky first (a higher FD and KID leak less).', '',
                report_lib.markdown_table(
                    ['defense', 'point', 'points at the floors', *columns],
                    [[r['defense'], r['point'] or '(none reaches the floors)',
                      r['num_points_at_floor'], *[_mean_and_interval(r, c) for c in columns]]
                     for r in rows]), '']
  return ['## Verdict', '', *parts] if parts else []


def _mean_and_interval(point: Mapping[str, Any], column: str) -> str:
  """'mean ± half-width' of `column` (3 and 2 significant digits), '' if missing."""
  mean = plots_lib.as_number(point.get(column))
  if mean is None:
    return ''
  half = plots_lib.as_number(point.get(f'{column}{plots_lib.CI_SUFFIX}'))
  return f'{mean:.3g}' if half is None else f'{mean:.3g} ± {half:.2g}'


def write_sweep_report(output_dir: str, rows: Sequence[Mapping[str, Any]],
                       plot_paths: Sequence[str], *, configs: Sequence[Mapping[str, str]] = (),
                       failed: Sequence[str] = (), title: Optional[str] = None,
                       notes: Sequence[str] = (), preface: Sequence[str] = (),
                       summary: Sequence[Mapping[str, Any]] = ()) -> str:
  """Writes `<output_dir>/report.md`: `preface` paragraphs, the seed
  `summary` (if any), the runs' table (reference rows first), `notes`, the
  plots, each run's image grids side by side; returns its path."""
  flag_columns = list(collections.OrderedDict.fromkeys(k for c in configs for k in c))
  shown = ['run'] + [c for c in flag_columns if c != 'defense'] + report_columns(rows)
  sweep = layout_lib.SweepLayout(output_dir)
  csv_name = sweep.SWEEP_CSV
  parts = [f'# {title or "Sweep " + os.path.basename(output_dir)}', '',
           *[line for paragraph in preface for line in (paragraph, '')],
           f'{len(configs)} runs; every column is in [{csv_name}]({csv_name}).', '']
  if any('riafi_ratio' in r for r in rows):
    parts += [f'`riafi`: target-class test accuracy of the global model, mean of the last '
              f'{RIAFI_ROUNDS} rounds; `riafi_ratio`: that over the reference run\'s (same seed '
              'and settings, no defense); `central_riafi`: the same data trained centrally; '
              '`*.nn_ssim_ratio`: the attacker\'s mean nearest-neighbour SSIM to the victim\'s '
              'images over the reference\'s.', '']
  parts += reference_table(rows)
  parts += verdict_table(summary)
  parts += seed_summary_table(summary)
  parts += [report_lib.markdown_table(
      shown, [[f'[{r["run"]}]({sweep.run_rel(r["run"], layout_lib.REPORT_FILE)})',
               *[r.get(c, '') for c in shown[1:]]] for r in rows]), '']
  for note in notes:
    parts += [note, '']
  if failed:
    parts += ['Failed runs (see their logs): ' + ', '.join(
        f'[{n}]({os.path.relpath(sweep.run_log(n), output_dir)})' for n in failed), '']
  for path in plot_paths:
    rel = os.path.relpath(path, output_dir)
    parts += [f'![{os.path.basename(rel)}]({rel})', '']
  image_rows = []
  for row in rows:
    cells = [run_image(sweep.run_dir(row['run']), rel) for _, rel in RUN_IMAGES]
    if any(cells):
      image_rows.append([row['run'], *[
          f'![]({sweep.run_rel(row["run"], c)})' if c else '' for c in cells]])
  if image_rows:
    columns = [i for i in range(len(RUN_IMAGES)) if any(r[i + 1] for r in image_rows)]
    parts += ['## Images', '', report_lib.markdown_table(
        ['run', *[RUN_IMAGES[i][0] for i in columns]],
        [[r[0], *[r[i + 1] for i in columns]] for r in image_rows]), '']
  return write_text_atomic(sweep.report_md, '\n'.join(parts).rstrip() + '\n')
