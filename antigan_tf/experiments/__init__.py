"""Experiments over many runs: sweeps of `bin/run_tff` configurations with a
CSV row per run, reference ratios (RIAFI ratio), plots (including the
privacy-utility frontier) and a report. Plain Python; each run is its own
process (and TFF worker)."""

from antigan_tf.experiments.plots import pareto_front
from antigan_tf.experiments.plots import plot_defender_losses
from antigan_tf.experiments.plots import plot_frontier
from antigan_tf.experiments.plots import plot_sweep
from antigan_tf.experiments.sweep import SweepResult
from antigan_tf.experiments.sweep import add_reference_columns
from antigan_tf.experiments.sweep import expand_configurations
from antigan_tf.experiments.sweep import expand_grid
from antigan_tf.experiments.sweep import parse_arm
from antigan_tf.experiments.sweep import parse_grid
from antigan_tf.experiments.sweep import parse_reference
from antigan_tf.experiments.sweep import reference_configuration
from antigan_tf.experiments.sweep import run_sweep
