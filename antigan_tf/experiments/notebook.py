"""Helpers for the notebooks (colab/): run the CLIs, show their results inline.

The notebooks drive the same command-line tools a researcher runs
(`bin/run_sweep`, `bin/run_tff`) and show what those write: sweep.csv as a
table, image grids side by side, per-round curves. Images are drawn with
matplotlib and returned as PNG `IPython.display.Image`s, so they embed in the
notebook's output whatever the matplotlib backend (Colab cannot show local
files from Markdown). IPython and matplotlib are imported on call.
"""

import collections
import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Optional

from antigan_tf import layout as layout_lib
from antigan_tf.experiments import plots as plots_lib
from antigan_tf.experiments import sweep_report
from antigan_tf.metrics import report as report_lib
from antigan_tf.utils.io import read_csv_rows

# The per-round columns of metrics.csv the notebooks plot by default.
ROUND_COLUMNS = ('test_accuracy', 'target_accuracy', 'train_loss', 'attack_generator_loss')
_TAIL_LINES = 20


def _figure(nrows: int, ncols: int, figsize: tuple[float, float]):
  # A bare Figure (no pyplot): nothing is drawn twice by an inline backend.
  from matplotlib import figure  # pylint: disable=g-import-not-at-top

  fig = figure.Figure(figsize=figsize)
  return fig, fig.subplots(nrows, ncols, squeeze=False)


def _as_image(fig):
  from IPython import display  # pylint: disable=g-import-not-at-top

  fig.tight_layout()
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png', dpi=90)
  return display.Image(data=buffer.getvalue(), format='png')


class CommandError(RuntimeError):
  """A command-line tool exited with a non-zero status."""


def run_cli(script: str, *args: str, cwd: Optional[str] = None) -> None:
  """Runs `python <script> <args>`, showing its output as it comes.

  Output is copied to `sys.stdout` in chunks, so progress bars (carriage
  returns) update in place in a notebook. Child processes get a non-GUI
  matplotlib backend and unbuffered output.

  Args:
    script: path of the tool, e.g. 'bin/run_sweep'.
    *args: its arguments, e.g. '--flagfile=configs/sweeps/main.flags'.
    cwd: working directory (default: the current one).

  Raises:
    CommandError: the tool exited with a non-zero status; the message holds
      the command and the last lines of its output.
  """
  command = [sys.executable, script, *args]
  env = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONUNBUFFERED': '1'}
  tail = collections.deque(maxlen=_TAIL_LINES)
  partial = ''
  with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL) as process:
    while True:
      chunk = os.read(process.stdout.fileno(), 4096)
      if not chunk:
        break
      text = chunk.decode('utf-8', errors='replace')
      sys.stdout.write(text)
      sys.stdout.flush()
      lines = (partial + text).replace('\r', '\n').split('\n')
      partial = lines.pop()
      tail.extend(line for line in lines if line.strip())
    code = process.wait()
  if partial.strip():
    tail.append(partial)
  if code != 0:
    raise CommandError(f'{" ".join(command)} exited with status {code}. Last lines:\n' +
                       '\n'.join(tail))


def sweep_rows(sweep_dir: str) -> list[dict[str, str]]:
  """The rows of `<sweep_dir>/sweep.csv`.

  Raises:
    FileNotFoundError: the sweep has not written its CSV.
  """
  path = layout_lib.SweepLayout(sweep_dir).sweep_csv
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path} does not exist: has the sweep run?')
  return read_csv_rows(path)[1]


def arm_rows(sweep_dir: str, arm: int) -> list[dict[str, str]]:
  """The sweep.csv rows of the runs of one `--arm` (by position, from 0).

  The arms are read from the sweep's sweep.json, as the sweep ran them
  (after `values_per_parameter`).

  Raises:
    IndexError: the sweep has fewer arms.
  """
  # Here, not at the top: sweeps need the federated stack, the other helpers
  # (images, tables, plots) do not.
  from antigan_tf.experiments import sweep as sweep_lib  # pylint: disable=g-import-not-at-top

  with open(layout_lib.SweepLayout(sweep_dir).sweep_json) as f:
    recorded = json.load(f)
  arms = recorded['arms']
  if not 0 <= arm < len(arms):
    raise IndexError(f'The sweep in {sweep_dir} has {len(arms)} arms; there is no arm {arm}.')
  names = {sweep_lib.run_name(c) for c in
           sweep_lib.expand_configurations(recorded['grid'], [arms[arm]])}
  return [row for row in sweep_rows(sweep_dir) if row['run'] in names]


def table(rows: Sequence[Mapping[str, str]], columns: Optional[Sequence[str]] = None):
  """Rows of sweep.csv as a Markdown table (an `IPython.display.Markdown`).

  Args:
    rows: e.g. `sweep_rows(...)` or `arm_rows(...)`.
    columns: columns to show after `run`; default the sweep report's (those
      with a value in some row).
  """
  from IPython import display  # pylint: disable=g-import-not-at-top

  if columns is None:
    columns = sweep_report.report_columns(rows)
  return display.Markdown(report_lib.markdown_table(
      ['run', *columns], [[r['run'], *[r.get(c, '') for c in columns]] for r in rows]))


def sweep_table(sweep_dir: str, columns: Optional[Sequence[str]] = None):
  """`table` of all of a sweep's rows."""
  return table(sweep_rows(sweep_dir), columns)


def _markdown(lines: Sequence[str]):
  """Markdown lines of the sweep report as an `IPython.display.Markdown`."""
  from IPython import display  # pylint: disable=g-import-not-at-top

  return display.Markdown('\n'.join(lines))


def reference_table(sweep_dir: str):
  """The reference rows every run is scored against (held-out real images,
  another class, noise, blobs, black images), as an `IPython.display.Markdown`."""
  return _markdown(sweep_report.reference_table(sweep_rows(sweep_dir)))


def summary_rows(sweep_dir: str) -> list[dict[str, str]]:
  """The rows of `<sweep_dir>/sweep_summary.csv` (a sweep over seeds: one per point).

  Raises:
    FileNotFoundError: the sweep has no seed summary (one seed, or not run).
  """
  path = layout_lib.SweepLayout(sweep_dir).sweep_summary_csv
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path} does not exist: has a sweep over seeds run?')
  return read_csv_rows(path)[1]


def summary_table(sweep_dir: str):
  """Each point's mean ± 95% interval over its seeds, as an `IPython.display.Markdown`."""
  return _markdown(sweep_report.seed_summary_table(summary_rows(sweep_dir)))


def verdict_table(sweep_dir: str):
  """Per attacker, each defense's least leaky point at a RIAFI ratio and a
  test-accuracy ratio of at least 0.9 (`experiments.verdict`), as an
  `IPython.display.Markdown`."""
  return _markdown(sweep_report.verdict_table(summary_rows(sweep_dir)))


def run_images(run_dir: str) -> 'collections.OrderedDict[str, str]':
  """A run's image grids that exist: caption -> PNG path (the sweep report's set)."""
  found = collections.OrderedDict()
  for caption, relative in sweep_report.RUN_IMAGES:
    path = sweep_report.run_image(run_dir, relative)
    if path:
      found[caption] = os.path.join(run_dir, path)
  return found


def show_images(rows: Mapping[str, Mapping[str, str]], *, panel_size: float = 3.0):
  """Draws PNGs in a grid: one row per key of `rows`, one panel per image.

  Args:
    rows: row label -> (caption -> PNG path), e.g. `{run: run_images(dir)}`;
      one column per caption.
    panel_size: inches per panel.

  Returns:
    An `IPython.display.Image` (PNG), shown inline by a notebook.

  Raises:
    ValueError: there is no image to show.
  """
  from matplotlib import image as mpimg  # pylint: disable=g-import-not-at-top

  rows = {label: images for label, images in rows.items() if images}
  if not rows:
    raise ValueError('No image to show.')
  # One column per caption, so the same kind of image lines up across rows.
  captions = list(collections.OrderedDict.fromkeys(c for images in rows.values() for c in images))
  fig, axes = _figure(len(rows), len(captions),
                      (panel_size * len(captions), (panel_size + 0.4) * len(rows)))
  for r, (label, images) in enumerate(rows.items()):
    for c, caption in enumerate(captions):
      ax = axes[r][c]
      ax.axis('off')
      if caption in images:
        ax.imshow(mpimg.imread(images[caption]), cmap='gray')
        ax.set_title(f'{label}\n{caption}', fontsize=9)
  return _as_image(fig)


def plot_rounds(run_dirs: Mapping[str, str], columns: Sequence[str] = ROUND_COLUMNS):
  """Per-round curves from each run's metrics.csv, one panel per column.

  Columns no run has are left out.

  Args:
    run_dirs: label -> run directory.
    columns: metrics.csv columns to plot against the round.

  Returns:
    An `IPython.display.Image` (PNG).

  Raises:
    ValueError: no run has any of `columns`.
  """
  from matplotlib import ticker  # pylint: disable=g-import-not-at-top

  series = collections.OrderedDict()
  for label, run_dir in run_dirs.items():
    _, rows = read_csv_rows(layout_lib.RunLayout(run_dir).metrics_csv)
    series[label] = rows
  shown = [c for c in columns
           if any(plots_lib.as_number(r.get(c)) is not None for rs in series.values() for r in rs)]
  if not shown:
    raise ValueError(f'None of {list(columns)} is in the runs\' metrics.csv.')
  fig, axes = _figure(1, len(shown), (4 * len(shown), 3.2))
  for ax, column in zip(axes[0], shown):
    for label, rows in series.items():
      points = [(int(r['round']), plots_lib.as_number(r.get(column))) for r in rows]
      points = [(x, y) for x, y in points if y is not None]
      if points:
        ax.plot(*zip(*points), marker='o', label=label)
    ax.set_xlabel('round')
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_title(column)
    ax.grid(alpha=0.3)
  axes[0][0].legend(fontsize=8)
  return _as_image(fig)


def show_plot(path: str):
  """One PNG the tools wrote (e.g. a sweep's plots/*.png), as an `IPython.display.Image`.

  Raises:
    FileNotFoundError: `path` does not exist.
  """
  from IPython import display  # pylint: disable=g-import-not-at-top

  if not os.path.exists(path):
    raise FileNotFoundError(f'{path} does not exist.')
  with open(path, 'rb') as f:
    return display.Image(data=f.read(), format='png')
