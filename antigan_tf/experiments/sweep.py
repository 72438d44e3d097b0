"""Sweeps: a grid of `bin/run_tff` runs, one CSV row per run, plots, a report.

Each configuration of the grid is one `run_tff` process (its own TFF worker,
its own run directory), so configurations run in parallel processes and a
sweep inherits everything a run does: checkpoints, resume, leakage.json,
report.md. Re-running a sweep skips finished runs and resumes unfinished
ones. Plain Python (plus matplotlib for the plots).

  sweep_dir/
    sweep.json        the base flagfile's flags, the grid, the command;
    sweep.csv         one row per run: grid values, last-round metrics,
                      leakage (`<attacker>.<metric>`);
    plots/*.png       one plot per (x, y) pair asked for;
    report.md         the table and the plots;
    runs/<name>/      each run's directory; runs/<name>.log its output.
"""

import collections
import concurrent.futures
import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Optional

import tqdm

from antigan_tf.metrics import report as report_lib
from antigan_tf.utils import checks
from antigan_tf.utils.io import read_csv_rows
from antigan_tf.utils.io import read_hparams_csv

SWEEP_CSV = 'sweep.csv'
RUNS_DIR = 'runs'
# run_tff flags a grid may not set: the sweep owns them.
_RESERVED = frozenset({'output_dir', 'flagfile', 'overwrite', 'progress'})
_FLAG_LINE = re.compile(r'^\s+--(?:\[no\])?([A-Za-z0-9_]+)[:=]?')


class SweepResult(NamedTuple):
  """What `run_sweep` returns.

  Attributes:
    rows: one mapping per finished run (as in sweep.csv).
    csv_path: sweep.csv.
    failed: names of the runs that ended with an error (see runs/<name>.log).
    skipped: names of the runs that were already finished.
  """

  rows: list[Mapping[str, Any]]
  csv_path: str
  failed: list[str]
  skipped: list[str]


def default_run_tff() -> str:
  """`bin/run_tff` of this source tree, else the installed `run_tff` script."""
  here = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
      os.path.abspath(__file__)))), 'bin', 'run_tff')
  if os.path.exists(here):
    return here
  import shutil  # pylint: disable=g-import-not-at-top
  found = shutil.which('run_tff')
  if not found:
    raise FileNotFoundError('Cannot find bin/run_tff or an installed `run_tff` script.')
  return found


def parse_grid(specs: Sequence[str]) -> 'collections.OrderedDict[str, list[str]]':
  """`['name=v1,v2', ...]` -> OrderedDict(name -> [v1, v2]).

  Raises:
    ValueError: a spec without '=', an empty name or value list, a repeated
      name, or an empty value.
  """
  grid = collections.OrderedDict()
  for spec in specs:
    name, sep, values = spec.partition('=')
    name = name.strip().lstrip('-')
    if not sep or not name:
      raise ValueError(f'Grid entry {spec!r} must look like name=value1,value2.')
    if name in grid:
      raise ValueError(f'Grid parameter {name!r} is given twice.')
    items = [v.strip() for v in values.split(',')] if values.strip() else []
    if not items or any(not v for v in items):
      raise ValueError(f'Grid parameter {name!r} needs a non-empty list of values, got {values!r}.')
    grid[name] = items
  return grid


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list['collections.OrderedDict[str, str]']:
  """Every combination of the grid's values, in order (the last name varies fastest)."""
  if not grid:
    return [collections.OrderedDict()]
  names = list(grid)
  return [collections.OrderedDict(zip(names, (str(v) for v in combo)))
          for combo in itertools.product(*(grid[n] for n in names))]


def run_name(params: Mapping[str, str]) -> str:
  """A file-system-safe directory name for one configuration."""
  if not params:
    return 'base'
  text = ','.join(f'{k}={v}' for k, v in params.items())
  return re.sub(r'[^A-Za-z0-9_.,=+-]', '_', text)


def run_tff_flag_names(run_tff: str) -> set[str]:
  """The flags `run_tff` defines, read from its --helpfull."""
  proc = subprocess.run([sys.executable, run_tff, '--helpfull'], capture_output=True,
                        text=True, stdin=subprocess.DEVNULL, timeout=600)
  names = {m.group(1) for line in proc.stdout.splitlines() if (m := _FLAG_LINE.match(line))}
  if 'output_dir' not in names:
    raise RuntimeError(f'Could not read the flags of {run_tff}:\n{proc.stderr[-2000:]}')
  return names


def _finished(run_dir: str) -> bool:
  hparams_path = os.path.join(run_dir, 'hparams.csv')
  if not (os.path.exists(hparams_path) and os.path.exists(os.path.join(run_dir, 'report.md'))):
    return False
  rounds = read_hparams_csv(hparams_path).get('rounds')
  _, rows = read_csv_rows(os.path.join(run_dir, 'metrics.csv'))
  return bool(rows) and rows[-1].get('round') == rounds


def collect_row(run_dir: str, params: Mapping[str, str]) -> 'collections.OrderedDict[str, Any]':
  """A sweep.csv row: the grid values, then the last round's metrics, then
  leakage as `<attacker>.<metric>`."""
  row = collections.OrderedDict(run=os.path.basename(run_dir))
  row.update(params)
  _, rows = read_csv_rows(os.path.join(run_dir, 'metrics.csv'))
  if rows:
    row.update((k, v) for k, v in rows[-1].items() if k not in row)
  leakage_path = os.path.join(run_dir, report_lib.LEAKAGE_FILE)
  if os.path.exists(leakage_path):
    with open(leakage_path) as f:
      for attacker, values in json.load(f).items():
        for metric, value in values.items():
          row[f'{attacker}.{metric}'] = value
  return row


def _write_csv(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
  import csv  # pylint: disable=g-import-not-at-top
  fieldnames: list[str] = []
  for row in rows:
    fieldnames.extend(k for k in row if k not in fieldnames)
  tmp = path + '.tmp'
  with open(tmp, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames, restval='')
    writer.writeheader()
    writer.writerows(rows)
  os.replace(tmp, path)


def plot_sweep(rows: Sequence[Mapping[str, Any]], *, x: str, y: str, path: str,
               by: Optional[str] = None, title: Optional[str] = None) -> str:
  """A line plot of column `y` against column `x`, one line per value of `by`.

  Raises:
    ValueError: `x` or `y` is not a column of the rows.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  for column in (x, y) + ((by,) if by else ()):
    if not rows or column not in rows[0]:
      raise ValueError(f'{column!r} is not a column of the sweep (have {sorted(rows[0]) if rows else []}).')
  groups = collections.OrderedDict()
  for row in rows:
    groups.setdefault(row[by] if by else '', []).append(row)
  fig, ax = plt.subplots(figsize=(5, 3.5))
  for label, members in groups.items():
    points = sorted((float(r[x]), float(r[y])) for r in members if r.get(y) not in ('', None))
    if points:
      ax.plot(*zip(*points), marker='o', label=f'{by}={label}' if by else None)
  ax.set_xlabel(x)
  ax.set_ylabel(y)
  if title:
    ax.set_title(title)
  if by:
    ax.legend()
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=100)
  plt.close(fig)
  return path


def run_sweep(
    *,
    output_dir: str,
    base_flagfile: str,
    grid: Mapping[str, Sequence[Any]],
    parallel: int = 1,
    extra_flags: Sequence[str] = (),
    plots: Sequence[tuple[str, str]] = (),
    plot_by: Optional[str] = None,
    run_tff: Optional[str] = None,
    progress: bool = True,
) -> SweepResult:
  """Runs every configuration of `grid` on top of `base_flagfile`.

  Args:
    output_dir: the sweep directory (see the module docstring).
    base_flagfile: `run_tff` flagfile shared by all runs.
    grid: run_tff flag name -> values; one run per combination.
    parallel: runs at once (each a process with its own TFF worker).
    extra_flags: more `--name=value` flags for every run.
    plots: (x, y) column pairs to plot from sweep.csv.
    plot_by: a column whose values get one line each in the plots.
    run_tff: path of the `run_tff` script (default: `default_run_tff()`).
    progress: a progress bar over runs.

  Returns:
    A `SweepResult`.

  Raises:
    ValueError: an unknown or reserved grid parameter, an empty value list,
      a missing flagfile, or a bad `parallel`.
  """
  parallel = checks.check_int(parallel, 'parallel', 1)
  if not os.path.isfile(base_flagfile):
    raise ValueError(f'`base_flagfile` {base_flagfile!r} does not exist.')
  for name, values in grid.items():
    if not values:
      raise ValueError(f'Grid parameter {name!r} has an empty list of values.')
  run_tff = run_tff or default_run_tff()
  known = run_tff_flag_names(run_tff)
  unknown = sorted(set(grid) - known)
  if unknown:
    raise ValueError(f'Unknown grid parameter(s) {unknown}: not flags of run_tff.')
  reserved = sorted(set(grid) & _RESERVED)
  if reserved:
    raise ValueError(f'Grid parameter(s) {reserved} are set by the sweep itself.')

  output_dir = os.path.abspath(output_dir)
  runs_dir = os.path.join(output_dir, RUNS_DIR)
  os.makedirs(runs_dir, exist_ok=True)
  configs = expand_grid(grid)
  base_flagfile = os.path.abspath(base_flagfile)
  with open(os.path.join(output_dir, 'sweep.json'), 'w') as f:
    json.dump({'base_flagfile': base_flagfile, 'grid': {k: list(map(str, v)) for k, v in grid.items()},
               'extra_flags': list(extra_flags), 'run_tff': run_tff}, f, indent=1)

  def launch(params):
    name = run_name(params)
    run_dir = os.path.join(runs_dir, name)
    if _finished(run_dir):
      return name, 'skipped'
    command = [sys.executable, run_tff, f'--flagfile={base_flagfile}', f'--output_dir={run_dir}',
               *[f'--{k}={v}' for k, v in params.items()], *extra_flags, '--progress=false']
    with open(os.path.join(runs_dir, f'{name}.log'), 'w') as log:
      code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    return name, 'ok' if code == 0 else 'failed'

  outcomes = {}
  with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
    futures = [pool.submit(launch, params) for params in configs]
    for future in tqdm.tqdm(concurrent.futures.as_completed(futures), total=len(futures),
                            desc='sweep runs', unit='run', disable=not progress):
      name, outcome = future.result()
      outcomes[name] = outcome

  rows = [collect_row(os.path.join(runs_dir, run_name(p)), p) for p in configs
          if outcomes[run_name(p)] != 'failed']
  csv_path = os.path.join(output_dir, SWEEP_CSV)
  _write_csv(csv_path, rows)
  plot_paths = [
      plot_sweep(rows, x=x, y=y, by=plot_by,
                 path=os.path.join(output_dir, 'plots', f'{y}_vs_{x}.png'))
      for x, y in plots if rows]
  _write_sweep_report(output_dir, rows, plot_paths, configs, outcomes)
  return SweepResult(
      rows=rows, csv_path=csv_path,
      failed=sorted(n for n, o in outcomes.items() if o == 'failed'),
      skipped=sorted(n for n, o in outcomes.items() if o == 'skipped'))


def _write_sweep_report(output_dir, rows, plot_paths, configs, outcomes):
  grid_columns = list(configs[0]) if configs else []
  shown = ['run', *grid_columns] + [
      c for c in ('test_accuracy', 'target_accuracy', 'gan_adversary.nn_ssim_mean',
                  'gan_adversary.oracle_rate', 'black_box.nn_ssim_mean',
                  'black_box.oracle_rate') if rows and c in rows[0]]
  parts = [f'# Sweep {os.path.basename(output_dir)}', '',
           f'{len(configs)} runs; every column is in [{SWEEP_CSV}]({SWEEP_CSV}).', '',
           report_lib.markdown_table(
               shown, [[f'[{r["run"]}]({RUNS_DIR}/{r["run"]}/report.md)',
                        *[r.get(c, '') for c in shown[1:]]] for r in rows]), '']
  failed = sorted(n for n, o in outcomes.items() if o == 'failed')
  if failed:
    parts += ['Failed runs (see their logs): ' + ', '.join(
        f'[{n}]({RUNS_DIR}/{n}.log)' for n in failed), '']
  for path in plot_paths:
    rel = os.path.relpath(path, output_dir)
    parts += [f'![{os.path.basename(rel)}]({rel})', '']
  with open(os.path.join(output_dir, report_lib.REPORT_FILE), 'w') as f:
    f.write('\n'.join(parts).rstrip() + '\n')
