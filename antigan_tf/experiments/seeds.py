"""A sweep's points over several seeds: mean and 95% interval.

A sweep whose grid (or arms) holds `seed` (`--grid=seed=0,1,2`) runs every
point once per seed; each run's reference is the reference configuration of
the same seed. `summarize_seeds` groups sweep rows by point (the run's
flags without `seed`) and gives, for every numeric column, the mean over the
seeds and the half-width of its 95% confidence interval from Student's t
distribution (`scipy.stats.t`): mean +- t_{0.975, n-1} * s / sqrt(n).
"""

import collections
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from scipy import stats

from antigan_tf.experiments.plots import CI_SUFFIX
from antigan_tf.experiments.plots import as_number
from antigan_tf.layout import run_name

SEED_FLAG = 'seed'
# Text columns a point keeps from its first seed's row.
_TEXT_COLUMNS = ('defense', 'attacks')


def point_name(params: Mapping[str, Any]) -> str:
  """The name of a point: the run name of its flags without `seed`."""
  return run_name({k: v for k, v in params.items() if k != SEED_FLAG})


def interval_half_width(values: Sequence[float], *, confidence: float = 0.95) -> Optional[float]:
  """t_{(1+c)/2, n-1} * s / sqrt(n) (`scipy.stats`); None for fewer than 2 values."""
  if len(values) < 2:
    return None
  return float(stats.t.ppf((1.0 + confidence) / 2.0, len(values) - 1) * stats.sem(values))


def summarize_seeds(rows: Sequence[Mapping[str, Any]],
                    params_of: Mapping[str, Mapping[str, Any]]
                    ) -> list['collections.OrderedDict[str, Any]']:
  """One row per point: its flags, `num_seeds`, `seeds`, then for each column
  numeric in every seed's row its mean and `<column>_ci95`.

  Args:
    rows: sweep rows (with `run`), as in sweep.csv.
    params_of: run name -> the run's grid flags (with `seed`).

  Returns:
    The points, in the order of their first run. A column missing or not a
    number in one seed's row is left out of that point (no silent average
    over fewer seeds).
  """
  groups = collections.OrderedDict()
  for row in rows:
    params = params_of[row['run']]
    groups.setdefault(point_name(params), []).append((params, row))
  summary = []
  for name, members in groups.items():
    params = members[0][0]
    point = collections.OrderedDict(point=name)
    point.update((k, v) for k, v in params.items() if k != SEED_FLAG)
    point.update((k, members[0][1][k]) for k in _TEXT_COLUMNS if k in members[0][1])
    point['num_seeds'] = len(members)
    point['seeds'] = ','.join(str(p.get(SEED_FLAG, '')) for p, _ in members)
    columns = collections.OrderedDict.fromkeys(k for _, r in members for k in r)
    for column in columns:
      if column in point or column in ('run', 'reference_run', SEED_FLAG):
        continue
      values = [as_number(r.get(column)) for _, r in members]
      if any(v is None for v in values):
        continue
      point[column] = sum(values) / len(values)
      point[f'{column}{CI_SUFFIX}'] = interval_half_width(values)
    summary.append(point)
  return summary


def has_seeds(configs: Sequence[Mapping[str, Any]]) -> bool:
  """Whether the sweep runs some point with more than one seed."""
  seen = collections.Counter(point_name(c) for c in configs if SEED_FLAG in c)
  return any(count > 1 for count in seen.values())
