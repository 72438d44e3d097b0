"""Experiments over many runs: sweeps of `bin/run_tff` configurations with a
CSV row per run, reference ratios (RIAFI ratio), plots (including the
privacy-utility frontier) and a report. Plain Python; each run is its own
process (and TFF worker).

Its exports load lazily: the plots, the report and the notebook helpers work
without TFF (the plain-TF install), the sweeps need the federated stack.
"""

from antigan_tf.utils import lazy_exports

_PLOTS = 'antigan_tf.experiments.plots'
_SWEEP = 'antigan_tf.experiments.sweep'
_EXPORTS = {
    'pareto_front': _PLOTS,
    'plot_defender_losses': _PLOTS,
    'plot_frontier': _PLOTS,
    'plot_sweep': _PLOTS,
    'SweepResult': _SWEEP,
    'add_reference_columns': _SWEEP,
    'expand_configurations': _SWEEP,
    'expand_grid': _SWEEP,
    'parse_arm': _SWEEP,
    'parse_grid': _SWEEP,
    'parse_reference': _SWEEP,
    'reference_configuration': _SWEEP,
    'run_sweep': _SWEEP,
}
__getattr__, __dir__ = lazy_exports.module_attributes(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
