"""Plots of a sweep: one column against another, the privacy-utility frontier,
the defenders' training curves. Pure functions of sweep rows (as in
sweep.csv) or run directories, writing matplotlib PNGs."""

import collections
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from antigan_tf import layout as layout_lib
from antigan_tf.defense.config import BASELINE_STRENGTHS
from antigan_tf.metrics.class_leakage import LOWER_IS_LEAKIER
from antigan_tf.metrics.class_leakage import REFERENCE_PREFIX
from antigan_tf.utils.io import read_csv_rows

# The attackers of leakage.json, and the adaptive attacker on each one's samples.
ATTACKERS = ('gan_adversary', 'black_box', 'adaptive_gan_adversary', 'adaptive_black_box',
             'adaptive_victim_shared')
# Reference rows drawn across each frontier panel, with their line styles.
FRONTIER_REFERENCES = (('held_out_real', ':'), ('other_class', '--'), ('uniform_noise', '-.'))
# A column's 95% interval half-width (`experiments.seeds`).
CI_SUFFIX = '_ci95'
# run_tff flags that parameterise a defense (`--defender_*`, `--dp_*` and the
# baselines' strengths).
DEFENSE_PARAMETER_PREFIXES = ('defender_', 'dp_', *BASELINE_STRENGTHS.values())


def as_number(value) -> Optional[float]:
  """A finite float from a number or CSV text; None for '', text, nan, inf."""
  try:
    number = float(value)
  except (TypeError, ValueError):
    return None
  return number if math.isfinite(number) else None


def _pyplot():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def _save(fig, path: str) -> str:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  _pyplot().close(fig)
  return path


def plot_sweep(rows: Sequence[Mapping[str, Any]], *, x: str, y: str, path: str,
               by: Optional[str] = None, title: Optional[str] = None) -> str:
  """A line plot of column `y` against column `x`, one line per value of `by`.

  Raises:
    ValueError: `x`, `y` or `by` is not a column of the rows.
  """
  for column in (x, y) + ((by,) if by else ()):
    if not rows or not any(column in r for r in rows):
      columns = sorted({k for r in rows for k in r})
      raise ValueError(f'{column!r} is not a column of the sweep (have {columns}).')
  plt = _pyplot()
  groups = collections.OrderedDict()
  for row in rows:
    groups.setdefault(row.get(by, '') if by else '', []).append(row)
  fig, ax = plt.subplots(figsize=(5, 3.5))
  for label, members in groups.items():
    points = sorted((as_number(r.get(x)), as_number(r.get(y))) for r in members
                    if as_number(r.get(x)) is not None and as_number(r.get(y)) is not None)
    if points:
      ax.plot(*zip(*points), marker='o', label=f'{by}={label}' if by else None)
  ax.set_xlabel(x)
  ax.set_ylabel(y)
  if title:
    ax.set_title(title)
  if by:
    ax.legend()
  return _save(fig, path)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
  """The points no other point beats: lower x (leakage) and higher y (utility).

  Returns them sorted by x. A point is dominated when another has x <= and
  y >= with at least one strict.
  """
  front = []
  for x, y in sorted(set(points), key=lambda p: (p[0], -p[1])):
    if not front or y > front[-1][1]:
      front.append((x, y))
  return front


def plot_frontier(rows: Sequence[Mapping[str, Any]], *, path: str,
                  utility: str = 'riafi_ratio',
                  leakage_metrics: Sequence[str] = ('frechet_distance', 'kid'),
                  group: str = 'defense', label: Optional[str] = None) -> Optional[str]:
  """The privacy-utility frontier: utility against each attacker's leakage.

  One panel per (leakage metric, attacker), one marker per value of `group`
  (e.g. none / anti_gan / dp), each point annotated with its `label` column
  (default: its defense parameters and test accuracy), with its 95% interval
  as error bars where the rows have `<column>_ci95` (a seed summary), the
  Pareto front of all points (less leakage, more utility) as a dashed line,
  and the reference rows (held-out real, other class, noise) as vertical
  lines.

  Args:
    rows: sweep rows.
    path: the PNG to write.
    utility: y column (default `riafi_ratio`; `target_accuracy` without a
      reference).
    leakage_metrics: leakage columns, `<attacker>.<metric>`.
    group: column whose values get one marker style each.
    label: column used to annotate points.

  Returns:
    `path`, or None when no row has both the utility and a leakage value.
  """
  attackers = [a for a in ATTACKERS if any(f'{a}.{leakage_metrics[0]}' in r for r in rows)]
  panels = [(m, a) for m in leakage_metrics for a in attackers]
  usable = [p for p in panels if any(
      as_number(r.get(utility)) is not None and as_number(r.get(f'{p[1]}.{p[0]}')) is not None
      for r in rows)]
  if not usable:
    return None
  plt = _pyplot()
  ncols = len(attackers)
  nrows = len(leakage_metrics)
  fig, axes = plt.subplots(nrows, ncols, figsize=(8 * ncols, 4.5 * nrows), squeeze=False)
  markers = itertools.cycle('osD^vP*X')
  groups = list(collections.OrderedDict.fromkeys(r.get(group, '') for r in rows))
  style = {g: next(markers) for g in groups}
  for i, metric in enumerate(leakage_metrics):
    for j, attacker in enumerate(attackers):
      ax = axes[i][j]
      column = f'{attacker}.{metric}'
      points = []
      for g in groups:
        members = [r for r in rows if r.get(group, '') == g]
        xy = [(as_number(r.get(column)), as_number(r.get(utility)), r) for r in members]
        xy = [(x, y, r) for x, y, r in xy if x is not None and y is not None]
        if not xy:
          continue
        ax.errorbar([p[0] for p in xy], [p[1] for p in xy],
                    xerr=_errors([p[2] for p in xy], column),
                    yerr=_errors([p[2] for p in xy], utility), fmt=style[g], markersize=6,
                    capsize=2, linewidth=0.8, label=f'{group}={g}')
        for x, y, r in xy:
          text = r.get(label) if label else _short_label(r, group)
          if text:
            ax.annotate(str(text), (x, y), fontsize=6, xytext=(3, 3), textcoords='offset points')
        points.extend((x, y) for x, y, _ in xy)
      # A distance (FD, KID) is privacy: higher is better; a similarity, lower.
      sign = -1.0 if metric in LOWER_IS_LEAKIER else 1.0
      front = [(sign * x, y) for x, y in pareto_front([(sign * x, y) for x, y in points])]
      if len(front) > 1:
        ax.plot(*zip(*front), linestyle='--', color='grey', linewidth=1, label='Pareto front')
      _draw_references(ax, rows, metric)
      _set_leakage_scale(ax, metric, [x for x, _ in points])
      ax.set_xlabel(f'{column}\n(distance from the class: higher is more private)'
                    if sign < 0 else f'{column}\n(leakage, lower is better)')
      ax.set_ylabel(utility)
      ax.set_title(attacker)
      ax.grid(alpha=0.3)
      if i == 0 and j == ncols - 1:
        ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
  return _save(fig, path)


def _set_leakage_scale(ax, metric: str, values: Sequence[float]) -> None:
  """A log axis for a distance whose values span decades (FD from 0.2 for
  real images to hundreds for constant ones); symmetric-log for KID, which
  an unbiased estimator can put just below 0."""
  if metric not in LOWER_IS_LEAKIER or not values:
    return
  positive = [v for v in values if v > 0]
  if metric == 'frechet_distance' and len(positive) == len(values):
    ax.set_xscale('log')
  elif metric == 'kid':
    ax.set_xscale('symlog', linthresh=1e-2)


def _errors(rows: Sequence[Mapping[str, Any]], column: str) -> Optional[list[float]]:
  """The rows' 95% half-widths of `column` (0 where missing), None if none has one."""
  widths = [as_number(r.get(f'{column}{CI_SUFFIX}')) for r in rows]
  return None if all(w is None for w in widths) else [w or 0.0 for w in widths]


def _draw_references(ax, rows: Sequence[Mapping[str, Any]], metric: str) -> None:
  """Vertical lines at the reference rows' `metric` (the same in every run)."""
  for name, linestyle in FRONTIER_REFERENCES:
    values = (as_number(r.get(f'{REFERENCE_PREFIX}{name}.{metric}')) for r in rows)
    value = next((v for v in values if v is not None), None)
    if value is not None:
      ax.axvline(value, color='black', linestyle=linestyle, linewidth=0.8,
                 label=f'reference: {name}')


def _short_label(row: Mapping[str, Any], group: str) -> str:
  """The run's defense parameter values, and its overall test accuracy: a
  model that calls everything the target class has a high RIAFI too."""
  name = str(row.get('run', row.get('point', '')))
  parts = [p for p in name.split(',') if not p.startswith(f'{group}=')]
  label = ','.join(p.split('=', 1)[-1] if '=' in p else p for p in parts
                   if p.split('=', 1)[0].startswith(DEFENSE_PARAMETER_PREFIXES))
  accuracy = as_number(row.get('test_accuracy'))
  if accuracy is not None:
    label = f'{label} (acc {accuracy:.2f})'.strip()
  return label


def defender_loss_files(run_dir: str) -> list[str]:
  """The defenders' per-step losses.csv files of a run (one per protected class)."""
  return layout_lib.RunLayout(run_dir).defender_loss_csvs()


def plot_defender_losses(run_dirs: Sequence[str], *, path: str,
                         metrics: Sequence[str] = ('generator_loss', 'critic_loss',
                                                   'pixel_variance')) -> Optional[str]:
  """The defenders' training curves (the paper's Fig. 13), one line per run.

  Returns:
    `path`, or None when no run trained a defender.
  """
  curves = []
  for run_dir in run_dirs:
    for csv_path in defender_loss_files(run_dir):
      _, rows = read_csv_rows(csv_path)
      if rows:
        curves.append((os.path.basename(run_dir), rows))
  if not curves:
    return None
  metrics = [m for m in metrics if any(m in rows[0] for _, rows in curves)]
  plt = _pyplot()
  fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
  for ax, metric in zip(axes[0], metrics):
    for name, rows in curves:
      xy = [(as_number(r.get('step')), as_number(r.get(metric))) for r in rows]
      xy = [(x, y) for x, y in xy if x is not None and y is not None]
      if xy:
        ax.plot(*zip(*xy), label=name, linewidth=1)
    ax.set_xlabel('generator step')
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
  axes[0][0].legend(fontsize=7)
  return _save(fig, path)
