"""Experiments over many runs: sweeps of `bin/run_tff` configurations with a
CSV row per run, plots and a report. Plain Python; each run is its own
process (and TFF worker)."""

from antigan_tf.experiments.sweep import SweepResult
from antigan_tf.experiments.sweep import expand_grid
from antigan_tf.experiments.sweep import parse_grid
from antigan_tf.experiments.sweep import plot_sweep
from antigan_tf.experiments.sweep import run_sweep
