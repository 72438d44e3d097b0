"""The frontier's verdict: at the utility a user needs, which defense leaks least?

From a sweep's seed summary (`experiments.seeds`, one row per point with
means and `*_ci95`), `least_leaking_at_utility` keeps, for each defense, the
points whose mean utility columns (ratios against the undefended run of the
same seed) all reach their floors, and of those the one that leaks least by
one attacker's metric. The defenses are then ranked, least leaky first; a
defense with no point at the floors gets a row that says so. Plain Python.

The floors are on the RIAFI ratio and on the test-accuracy ratio: a global
model that calls most images the victim's class has a high RIAFI (its
target-class accuracy) and little use (DP-FedAvg with 4 clients does this
here: RIAFI ratio 2.1 at test accuracy 0.37, measured).
"""

import collections
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from antigan_tf.experiments.plots import CI_SUFFIX
from antigan_tf.experiments.plots import as_number
from antigan_tf.metrics.class_leakage import LOWER_IS_LEAKIER

# The question: a RIAFI ratio of at least 0.9, at a test accuracy of
# at least 0.9 of the undefended run's.
MINIMUM_RATIO = 0.9
TEST_ACCURACY_RATIO = 'test_accuracy_ratio'
FEDERATED_FLOORS = {'riafi_ratio': MINIMUM_RATIO, TEST_ACCURACY_RATIO: MINIMUM_RATIO}
CENTRAL_FLOORS = {'central_riafi_ratio': MINIMUM_RATIO, TEST_ACCURACY_RATIO: MINIMUM_RATIO}
# A leakage metric's name after its attacker: `black_box.frechet_distance`.
_ATTACKER_SEPARATOR = '.'


def leakage_order(metric: str, value: float) -> float:
  """A sort key of leakage `metric`'s values, least leaky first: a distance
  (FD, KID) is less leaky when larger, a similarity (SSIM, recall) when smaller."""
  name = metric.rsplit(_ATTACKER_SEPARATOR, 1)[-1]
  return -value if name in LOWER_IS_LEAKIER else value


def least_leaking_at_utility(points: Sequence[Mapping[str, Any]], *,
                             leakage: str = 'black_box.frechet_distance',
                             floors: Mapping[str, float] = FEDERATED_FLOORS,
                             group: str = 'defense',
                             also: Sequence[str] = ()) -> list['collections.OrderedDict[str, Any]']:
  """Per defense, its least leaky point among those whose means reach `floors`.

  Args:
    points: seed-summary rows (or sweep rows), each with `point` (or `run`),
      `group`, the `floors` columns and `leakage`, and optionally their
      `*_ci95`.
    leakage: the leakage column to rank by.
    floors: column -> the least mean a point must have in it; a point
      missing one of them does not reach it.
    group: the column that names a point's defense.
    also: more columns to copy from the chosen point, with their `*_ci95`.

  Returns:
    One row per value of `group`: `defense`, `point` (None when no point of
    the defense reaches the floors), `num_points_at_floor`, and the chosen
    point's `floors` columns, `leakage` and `also` with their `*_ci95`,
    ranked: defenses with a point first, least leaky first, then the others
    in input order.
  """
  by_group = collections.OrderedDict()
  for point in points:
    by_group.setdefault(point.get(group, ''), []).append(point)
  chosen, missing = [], []
  for name, members in by_group.items():
    usable = [p for p in members if as_number(p.get(leakage)) is not None and all(
        _at_least(as_number(p.get(column)), floor) for column, floor in floors.items())]
    best = min(usable, key=lambda p: leakage_order(leakage, as_number(p[leakage])),
               default=None)
    row = collections.OrderedDict(defense=name, point=_name(best), num_points_at_floor=len(usable))
    for column in (*floors, leakage, *also):
      for key in (column, f'{column}{CI_SUFFIX}'):
        row[key] = as_number(best.get(key)) if best else None
    (chosen if best else missing).append(row)
  return sorted(chosen, key=lambda r: leakage_order(leakage, r[leakage])) + missing


def _at_least(value: Optional[float], floor: float) -> bool:
  return value is not None and value >= floor


def _name(point: Optional[Mapping[str, Any]]) -> Optional[str]:
  if point is None:
    return None
  return point.get('point', point.get('run'))
