"""Sweeps: a set of `bin/run_tff` runs, one CSV row per run, plots, a report.

Each configuration is one `run_tff` process (its own TFF worker, its own run
directory), so configurations run in parallel processes and a sweep inherits
everything a run does: checkpoints, resume, leakage.json, report.md.
Re-running a sweep skips finished runs and resumes unfinished ones. Plain
Python (plus matplotlib for the plots).

Configurations are a product `grid` (every combination of its values),
optionally times a union of `arms` (each arm is its own product grid, e.g. one
arm for Anti-GAN over lambda2 and one for DP over noise multipliers). With a
`reference` (e.g. `{'defense': 'none'}`), every configuration gets a
reference run: the same configuration with its defense flags (`defense`,
`defender_*`, `dp_*`) replaced by the reference's, so the same seed and
settings without the defense. sweep.csv then also holds, per run:

  riafi                        the target-class test accuracy of the global
                               model (the paper's RIAFI in the federation),
                               averaged over the last `RIAFI_ROUNDS` rounds;
  riafi_ratio                  riafi / the reference's;
  central_riafi_ratio          the same for the centrally trained classifier
                               (`central_riafi` in utility.json);
  test_accuracy_ratio          the same for the overall test accuracy;
  <attacker>.nn_ssim_ratio     the attacker's mean nearest-neighbour SSIM to
                               the victim's images / the reference's.

Seeds: with `seed` in the grid (`--grid=seed=0,1,2`) every point runs once
per seed against the reference of the same seed, and sweep_summary.csv gives
each point's mean and 95% interval over its seeds (`experiments.seeds`); the
frontier plot and the report then show those.

  sweep_dir/
    sweep.json        the base flagfile, grid, arms, reference, the command;
    sweep.csv         one row per run: its flags, last-round metrics,
                      leakage (`<attacker>.<metric>`), reference ratios;
    sweep_summary.csv with seeds: one row per point, means and `*_ci95`;
    plots/*.png       the (x, y) plots asked for, the privacy-utility frontier,
                      the defenders' loss curves;
    report.md         the table, the plots and every run's image grids;
    runs/<name>/      each run's directory; runs/<name>.log its output.
"""

import collections
import concurrent.futures
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Optional

import tqdm

from antigan_tf import layout as layout_lib
from antigan_tf.layout import run_name
from antigan_tf.experiments import plots as plots_lib
from antigan_tf.experiments import run_flags
from antigan_tf.experiments import seeds as seeds_lib
from antigan_tf.experiments import sweep_report
from antigan_tf.federated import config as experiment_config
from antigan_tf.metrics import class_leakage
from antigan_tf.metrics import report as report_lib
from antigan_tf.utils import checks
from antigan_tf.utils import locks
from antigan_tf.utils import settings
from antigan_tf.utils.io import make_private_dir
from antigan_tf.utils.io import read_csv_rows
from antigan_tf.utils.io import write_csv_rows
from antigan_tf.utils.io import read_hparams_csv
from antigan_tf.utils.io import write_json_atomic

# run_tff flags a grid may not set: the sweep owns them.
_RESERVED = run_flags.RESERVED
_POLL_SECONDS = 2.0
RIAFI_ROUNDS = sweep_report.RIAFI_ROUNDS


class SweepResult(NamedTuple):
  """What `run_sweep` returns.

  Attributes:
    rows: one mapping per finished run (as in sweep.csv).
    csv_path: sweep.csv.
    report_path: report.md.
    failed: names of the runs that ended with an error (see runs/<name>.log).
    skipped: names of the runs that were already finished.
    seconds: wall time of this call.
  """

  rows: list[Mapping[str, Any]]
  csv_path: str
  report_path: str
  failed: list[str]
  skipped: list[str]
  seconds: float


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


def parse_grid(specs: Sequence[str], *, separator: Optional[str] = None
              ) -> 'collections.OrderedDict[str, list[str]]':
  """`['name=v1,v2', ...]` -> OrderedDict(name -> [v1, v2]).

  Args:
    specs: 'name=v1,v2' strings (a leading '--' on the name is allowed).
    separator: if given, each spec may hold several entries joined by it
      (`parse_grid(['a=1,2;b=3'], separator=';')`).

  Raises:
    ValueError: a spec without '=', an empty name or value list, a repeated
      name, or an empty value.
  """
  if separator:
    specs = [part for spec in specs for part in spec.split(separator) if part.strip()]
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


def parse_arm(spec: str) -> 'collections.OrderedDict[str, list[str]]':
  """One arm, 'name=v1,v2;name2=v3' -> its grid (see `parse_grid`)."""
  arm = parse_grid([spec], separator=';')
  if not arm:
    raise ValueError(f'Arm {spec!r} is empty; it must look like name=v1,v2;name2=v3.')
  return arm


def parse_reference(spec: str) -> 'collections.OrderedDict[str, str]':
  """'defense=none;...' -> the reference's flag values (one value each).

  Raises:
    ValueError: a malformed spec or a flag with several values.
  """
  reference = parse_grid([spec], separator=';')
  several = [k for k, v in reference.items() if len(v) != 1]
  if several or not reference:
    raise ValueError(f'The reference {spec!r} must give one value per flag, e.g. defense=none.')
  return collections.OrderedDict((k, v[0]) for k, v in reference.items())


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list['collections.OrderedDict[str, str]']:
  """Every combination of the grid's values, in order (the last name varies fastest)."""
  if not grid:
    return [collections.OrderedDict()]
  names = list(grid)
  return [collections.OrderedDict(zip(names, (str(v) for v in combo)))
          for combo in itertools.product(*(grid[n] for n in names))]


def expand_configurations(
    grid: Mapping[str, Sequence[Any]],
    arms: Sequence[Mapping[str, Sequence[Any]]] = (),
) -> list['collections.OrderedDict[str, str]']:
  """The grid's combinations, times the union of the arms' combinations.

  Duplicates (the same flags and values) are kept once, in first-seen order.

  Raises:
    ValueError: an arm sets a flag the grid also sets.
  """
  configs = []
  for arm in arms or [{}]:
    both = sorted(set(arm) & set(grid))
    if both:
      raise ValueError(f'{both} are set by both the grid and an arm; set them in one place.')
    for base in expand_grid(grid):
      for extra in expand_grid(arm):
        configs.append(collections.OrderedDict([*base.items(), *extra.items()]))
  unique = collections.OrderedDict()
  for config in configs:
    unique.setdefault(run_name(config), config)
  return list(unique.values())


def is_defense_flag(name: str) -> bool:
  """Whether a run_tff flag belongs to the defense (replaced in reference runs)."""
  return name == 'defense' or name.startswith(plots_lib.DEFENSE_PARAMETER_PREFIXES)


def reference_configuration(params: Mapping[str, str], reference: Mapping[str, str]
                            ) -> 'collections.OrderedDict[str, str]':
  """`params` with its defense flags replaced by `reference`'s.

  Flags keep their order (so a configuration that already is its own
  reference keeps its name); defense flags the reference does not set are
  dropped; the reference's other flags come last.
  """
  out = collections.OrderedDict()
  for name, value in params.items():
    if name in reference:
      out[name] = reference[name]
    elif not is_defense_flag(name):
      out[name] = value
  out.update((k, v) for k, v in reference.items() if k not in out)
  return out


def run_tff_flag_names() -> frozenset[str]:
  """The flags of `run_tff`: the settings of `ExperimentConfig`."""
  return settings.flag_names(experiment_config.ExperimentConfig)


def _rounds_done(run_dir: str) -> int:
  _, rows = read_csv_rows(layout_lib.RunLayout(run_dir).metrics_csv)
  return int(rows[-1]['round']) if rows else 0


def _finished(run_dir: str) -> bool:
  run = layout_lib.RunLayout(run_dir)
  hparams_path = run.hparams_csv
  if not (os.path.exists(hparams_path) and os.path.exists(run.report_md)):
    return False
  rounds = read_hparams_csv(hparams_path).get('rounds')
  return rounds is not None and _rounds_done(run_dir) == int(rounds)


def collect_row(run_dir: str, params: Mapping[str, str]) -> 'collections.OrderedDict[str, Any]':
  """A sweep.csv row: the run's name, its flags (grid values, then `defense`
  and `attacks` from hparams.csv), the last round's metrics, `riafi` (see the
  module docstring), utility.json, then leakage as `<attacker>.<metric>`."""
  run = layout_lib.RunLayout(run_dir)
  row = collections.OrderedDict(run=os.path.basename(run_dir))
  row.update(params)
  if os.path.exists(run.hparams_csv):
    hparams = read_hparams_csv(run.hparams_csv)
    for name in ('defense', 'attacks'):
      row.setdefault(name, hparams.get(name, ''))
  _, rows = read_csv_rows(run.metrics_csv)
  if rows:
    row.update((k, v) for k, v in rows[-1].items() if k not in row)
    last = [plots_lib.as_number(r.get('target_accuracy')) for r in rows[-RIAFI_ROUNDS:]]
    last = [v for v in last if v is not None]
    row['riafi'] = sum(last) / len(last) if last else None
  row.update(report_lib.read_json(run.utility_json))
  leakage = report_lib.read_json(run.leakage_json)
  for attacker, values in leakage.items():
    for metric, value in values.items():
      row[f'{attacker}.{metric}'] = value
  # The yardstick: an attacker's Fréchet distance over another class's.
  other = leakage.get(f'{class_leakage.REFERENCE_PREFIX}other_class', {}).get('frechet_distance')
  for attacker in (*plots_lib.ATTACKERS, 'victim_shared'):
    if attacker in leakage and 'frechet_distance' in leakage[attacker]:
      row[f'{attacker}.fd_over_other_class'] = _ratio(
          leakage[attacker].get('frechet_distance'), other)
  return row


def _ratio(numerator, denominator) -> Optional[float]:
  a, b = plots_lib.as_number(numerator), plots_lib.as_number(denominator)
  return None if a is None or b is None or b == 0 else a / b


def add_reference_columns(rows: Sequence[Mapping[str, Any]],
                          reference_of: Mapping[str, str]) -> list[Mapping[str, Any]]:
  """Adds `reference_run`, `riafi_ratio`, `test_accuracy_ratio`,
  `central_riafi_ratio` and `<attacker>.nn_ssim_ratio` to each row (see the module docstring).

  A ratio whose reference value is missing or zero is left empty: a reference
  federation that never learned the target class cannot normalise anything.

  Args:
    rows: sweep rows (with `run`).
    reference_of: run name -> the name of its reference run.

  Returns:
    New rows, in order.
  """
  by_name = {r['run']: r for r in rows}
  out = []
  for row in rows:
    row = collections.OrderedDict(row)
    reference = by_name.get(reference_of.get(row['run'], ''))
    row['reference_run'] = reference['run'] if reference else ''
    if reference is not None:
      row['riafi_ratio'] = _ratio(row.get('riafi'), reference.get('riafi'))
      row['test_accuracy_ratio'] = _ratio(row.get('test_accuracy'), reference.get('test_accuracy'))
      for name in ('central_riafi', 'central_balanced_riafi'):
        row[f'{name}_ratio'] = _ratio(row.get(name), reference.get(name))
      for attacker in plots_lib.ATTACKERS:
        key = f'{attacker}.nn_ssim_mean'
        if key in row:
          row[f'{attacker}.nn_ssim_ratio'] = _ratio(row[key], reference.get(key))
    out.append(row)
  return out


class _RoundMonitor:
  """A progress bar over the FedAvg rounds of all runs, read from their
  metrics.csv files while they run (each run is a separate process), with
  the stage of each running run (from its log's phase lines) as postfix."""

  def __init__(self, run_dirs: Mapping[str, str], total_rounds: int, enabled: bool):
    self._run_dirs = run_dirs
    # Rounds finished before this call (a resumed sweep) are the bar's start,
    # not part of its rate.
    self._done = sum(_rounds_done(d) for d in run_dirs.values())
    self._bar = tqdm.tqdm(total=total_rounds, initial=self._done, desc='sweep rounds',
                          unit='round', disable=not enabled)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._poll, daemon=True)
    self._lock = threading.Lock()
    self._running: dict[str, str] = {}  # name -> log path.
    self._phases = ''

  def __enter__(self):
    self._refresh()
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._stop.set()
    self._thread.join()
    self._refresh()
    self._bar.close()

  def started(self, name: str, log_path: str) -> None:
    with self._lock:
      self._running[name] = log_path
    self._bar.write(f'run_sweep: started {name}')

  def finished(self, name: str, message: str) -> None:
    with self._lock:
      self._running.pop(name, None)
    self._bar.write(f'run_sweep: {message}')

  def _refresh(self):
    done = sum(_rounds_done(d) for d in self._run_dirs.values())
    if done > self._done:
      self._bar.update(done - self._done)
      self._done = done
    with self._lock:
      running = dict(self._running)
    phases = ' | '.join(f'{name}: {phase}' for name, path in running.items()
                        if (phase := last_phase(path)))
    if phases != self._phases:  # Redraw on change only: logs stay short.
      self._phases = phases
      self._bar.set_postfix_str(phases, refresh=True)

  def _poll(self):
    while not self._stop.wait(_POLL_SECONDS):
      self._refresh()


def last_phase(log_path: str, tail_bytes: int = 65536) -> str:
  """The last stage a run logged (`run_federated`'s phase lines), or ''."""
  try:
    with open(log_path, 'rb') as f:
      f.seek(max(0, os.path.getsize(log_path) - tail_bytes))
      text = f.read().decode('utf-8', errors='replace')
  except OSError:
    return ''
  found = layout_lib.PHASE_LINE.findall(text)
  return found[-1].strip() if found else ''


def run_sweep(
    *,
    output_dir: str,
    base_flagfile: str,
    grid: Mapping[str, Sequence[Any]] = (),
    arms: Sequence[Mapping[str, Sequence[Any]]] = (),
    reference: Optional[Mapping[str, str]] = None,
    parallel: int = 1,
    extra_flags: Sequence[str] = (),
    plots: Sequence[tuple[str, str]] = (),
    plot_by: Optional[str] = None,
    frontier: bool = False,
    title: Optional[str] = None,
    notes: Sequence[str] = (),
    run_tff: Optional[str] = None,
    progress: bool = True,
    dry_run: bool = False,
    values_per_parameter: Optional[int] = None,
) -> SweepResult:
  """Runs every configuration on top of `base_flagfile`.

  Args:
    output_dir: the sweep directory (see the module docstring).
    base_flagfile: `run_tff` flagfile shared by all runs.
    grid: run_tff flag name -> values; every combination is run (times each
      arm, if any).
    arms: grids whose combinations are run as alternatives, e.g.
      `[{'defense': ['none']}, {'defense': ['anti_gan'], 'defender_lambda2':
      [12, 48]}]`.
    reference: flag values of the reference runs, e.g. `{'defense': 'none'}`
      (see the module docstring); adds the reference ratios to sweep.csv.
    parallel: runs at once (each a process with its own TFF worker).
    extra_flags: more `--name=value` flags for every run.
    plots: (x, y) column pairs to plot from sweep.csv.
    plot_by: a column whose values get one line each in the plots.
    frontier: also plot the privacy-utility frontier (`plot_frontier`).
    title: the report's title (default: the directory name).
    notes: paragraphs for the report, under its title.
    run_tff: path of the `run_tff` script (default: `default_run_tff()`).
    progress: a progress bar over the rounds of all runs, and a line per run
      started and finished.
    dry_run: check everything and return the planned runs (`rows` holds
      each run's name and flags) without running or writing anything.
    values_per_parameter: keep only the first N values of every grid and arm
      parameter (a quick check of a sweep before the full grid); None: all.

  Returns:
    A `SweepResult`.

  Raises:
    ValueError: an unknown or reserved flag in the grid, arms, reference or
      extra flags, an empty value list, a missing flagfile, a run whose
      flags run_tff would refuse (`run_flags.check_runs`), a bad `parallel`,
      an `output_dir` that is a file or that another sweep is running in
      (`locks.DirectoryInUseError`). All checked by a dry run too, bar the last.
  """
  start = time.monotonic()
  parallel = checks.check_int(parallel, 'parallel', 1)
  grid, arms = _checked_grid(base_flagfile, grid, arms, reference, values_per_parameter)
  run_flags.check_extra_flags(extra_flags)
  configs, reference_of = _planned_configurations(grid, arms, reference)
  run_flags.check_runs(base_flagfile, configs, extra_flags)
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise ValueError(f'{output_dir!r} exists and is not a directory.')
  if dry_run:
    return SweepResult(
        rows=[collections.OrderedDict(run=run_name(p), **p) for p in configs], csv_path='',
        report_path='', failed=[], skipped=[], seconds=time.monotonic() - start)
  sweep = layout_lib.SweepLayout(os.path.abspath(output_dir))
  make_private_dir(sweep.root)
  with locks.exclusive_lock(sweep.lock_file, what=f'Sweep directory {sweep.root!r}'):
    make_private_dir(sweep.runs_dir)
    base_flagfile = os.path.abspath(base_flagfile)
    run_tff = run_tff or default_run_tff()
    write_json_atomic(sweep.sweep_json, {
        'base_flagfile': base_flagfile,
        'grid': {k: list(map(str, v)) for k, v in grid.items()},
        'arms': [{k: list(map(str, v)) for k, v in a.items()} for a in arms],
        'reference': dict(reference or {}),
        'extra_flags': list(extra_flags), 'run_tff': run_tff,
        'values_per_parameter': values_per_parameter,
        'command': sys.argv}, sort_keys=False)
    outcomes = _launch_runs(sweep, configs, run_tff=run_tff, base_flagfile=base_flagfile,
                            extra_flags=extra_flags, parallel=parallel, progress=progress)
    rows = [collect_row(sweep.run_dir(run_name(p)), p) for p in configs
            if outcomes[run_name(p)] != 'failed']
    if reference:
      rows = add_reference_columns(rows, reference_of)
    write_csv_rows(sweep.sweep_csv, rows)
    summary = []
    if seeds_lib.has_seeds(configs):
      summary = seeds_lib.summarize_seeds(rows, {run_name(p): p for p in configs})
      write_csv_rows(sweep.sweep_summary_csv, summary)
    plot_paths, plot_notes = _plot(sweep, rows, plots=plots, plot_by=plot_by, frontier=frontier,
                                   summary=summary)
    failed = sorted(n for n, o in outcomes.items() if o == 'failed')
    report_path = sweep_report.write_sweep_report(
        sweep.root, rows, [p for p in plot_paths if p], configs=configs, failed=failed,
        title=title, notes=plot_notes, preface=notes, summary=summary)
    return SweepResult(
        rows=rows, csv_path=sweep.sweep_csv, report_path=report_path, failed=failed,
        skipped=sorted(n for n, o in outcomes.items() if o == 'skipped'),
        seconds=time.monotonic() - start)


def _checked_grid(base_flagfile, grid, arms, reference, values_per_parameter):
  """(grid, arms) checked against run_tff's flags, cut to `values_per_parameter`."""
  if not os.path.isfile(base_flagfile):
    raise ValueError(f'`base_flagfile` {base_flagfile!r} does not exist (relative paths are '
                     f'relative to the current directory {os.getcwd()!r}).')
  grid = collections.OrderedDict(grid)
  for name, values in itertools.chain(grid.items(), *(a.items() for a in arms)):
    if isinstance(values, str) or not list(values):
      raise ValueError(f'Grid parameter {name!r} needs a non-empty list of values, got {values!r}.')
  if values_per_parameter is not None:
    n = checks.check_int(values_per_parameter, 'values_per_parameter', 1)
    grid = collections.OrderedDict((k, list(v)[:n]) for k, v in grid.items())
    arms = [collections.OrderedDict((k, list(v)[:n]) for k, v in a.items()) for a in arms]
  used = set(grid).union(*(set(a) for a in arms), reference or {})
  unknown = sorted(used - run_tff_flag_names())
  if unknown:
    raise ValueError(f'Unknown grid parameter(s) {unknown}: not flags of run_tff.')
  reserved = sorted(used & _RESERVED)
  if reserved:
    raise ValueError(f'Grid parameter(s) {reserved} are set by the sweep itself.')
  return grid, list(arms)


def _planned_configurations(grid, arms, reference):
  """(every run's flags, run name -> its reference run's name); references once."""
  configs = expand_configurations(grid, arms)
  reference_of = {}
  if reference:
    names = {run_name(c) for c in configs}
    for params in list(configs):
      ref = reference_configuration(params, reference)
      reference_of[run_name(params)] = run_name(ref)
      if run_name(ref) not in names:
        names.add(run_name(ref))
        configs.append(ref)
  return configs, reference_of


def _launch_runs(sweep: layout_lib.SweepLayout, configs, *, run_tff, base_flagfile,
                 extra_flags, parallel, progress) -> dict[str, str]:
  """Runs each configuration in its own run_tff process: name -> ok/failed/skipped."""
  run_dirs = collections.OrderedDict((run_name(p), sweep.run_dir(run_name(p))) for p in configs)
  total_rounds = sum(run_flags.planned_rounds(base_flagfile, p, extra_flags) for p in configs)
  # Parallel runs share one GPU: each takes memory as it needs it, not all of it.
  run_env = {'TF_FORCE_GPU_ALLOW_GROWTH': 'true', **os.environ}

  with _RoundMonitor(run_dirs, total_rounds, progress) as monitor:

    def launch(params):
      name = run_name(params)
      run_dir = run_dirs[name]
      if _finished(run_dir):
        return name, 'skipped'
      command = [sys.executable, run_tff,
                 *run_flags.run_arguments(base_flagfile, params, extra_flags),
                 f'--output_dir={run_dir}', '--progress=false']
      log_path = sweep.run_log(name)
      began = time.monotonic()
      with open(log_path, 'w') as log:
        monitor.started(name, log_path)
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=run_env)
      monitor.finished(name, f'{"finished" if code == 0 else "FAILED"} {name} in '
                             f'{time.monotonic() - began:.0f} s' +
                       ('' if code == 0 else f' (see {log_path})'))
      return name, 'ok' if code == 0 else 'failed'

    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
      return dict(pool.map(launch, configs))


def _plot(sweep: layout_lib.SweepLayout, rows, *, plots, plot_by, frontier, summary=()):
  """(plot paths, notes on plots skipped) for the sweep's report; the
  frontier of the seed `summary` (means and intervals) when there is one."""
  plot_paths, notes = [], []
  for x, y in plots if rows else ():
    try:
      plot_paths.append(plots_lib.plot_sweep(
          rows, x=x, y=y, by=plot_by, path=sweep.plot(f'{y}_vs_{x}.png')))
    except ValueError as e:  # A typo in a plot must not cost the finished runs.
      notes.append(f'Plot {y} against {x} skipped: {e}')
      print(f'run_sweep: {notes[-1]}', file=sys.stderr)
  if frontier and rows:
    # Federated and central RIAFI ratios, where the references learned the
    # target class at all; the raw RIAFI otherwise.
    utilities = [(c, name) for c, name in (('riafi_ratio', sweep.FRONTIER_PLOT),
                                           ('central_riafi_ratio', sweep.FRONTIER_CENTRAL_PLOT))
                 if any(plots_lib.as_number(r.get(c)) is not None for r in rows)]
    for utility, name in utilities or [('riafi', sweep.FRONTIER_PLOT)]:
      plot_paths.append(plots_lib.plot_frontier(
          summary or rows, path=sweep.plot(name), utility=utility))
  plot_paths.append(plots_lib.plot_defender_losses(
      [sweep.run_dir(r['run']) for r in rows], path=sweep.plot(sweep.DEFENDER_LOSS_PLOT)))
  return plot_paths, notes
