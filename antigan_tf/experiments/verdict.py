"""The frontier's verdict: at the utility a user needs, which defense leaks least?

From a sweep's seed summary (`experiments.seeds`, one row per point with
means and `*_ci95`), `least_leaking_at_utility` keeps, for each defense, the
points whose mean utility (the RIAFI ratio against the undefended run of the
same seed) reaches a floor, and of those the one that leaks least by one
attacker's metric. The defenses are then ranked, least leaky first; a
defense with no point at the floor gets a row that says so. Plain Python.
"""

import collections
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from antigan_tf.experiments.plots import CI_SUFFIX
from antigan_tf.experiments.plots import as_number
from antigan_tf.metrics.class_leakage import LOWER_IS_LEAKIER

# The floor of the question: a RIAFI ratio of at least 0.9.
DEFAULT_MINIMUM_UTILITY = 0.9
# A leakage metric's name after its attacker: `black_box.frechet_distance`.
_ATTACKER_SEPARATOR = '.'


def leakage_order(metric: str, value: float) -> float:
  """A sort key of leakage `metric`'s values, least leaky first: a distance
  (FD, KID) is less leaky when larger, a similarity (SSIM, recall) when smaller."""
  name = metric.rsplit(_ATTACKER_SEPARATOR, 1)[-1]
  return -value if name in LOWER_IS_LEAKIER else value


def least_leaking_at_utility(points: Sequence[Mapping[str, Any]], *,
                             leakage: str = 'black_box.frechet_distance',
                             utility: str = 'riafi_ratio',
                             minimum: float = DEFAULT_MINIMUM_UTILITY,
                             group: str = 'defense',
                             also: Sequence[str] = ()) -> list['collections.OrderedDict[str, Any]']:
  """Per defense, its least leaky point among those of mean utility >= `minimum`.

  Args:
    points: seed-summary rows (or sweep rows), each with `point` (or `run`),
      `group`, `utility` and `leakage` columns, and optionally their `*_ci95`.
    leakage: the leakage column to rank by.
    utility: the utility column the floor applies to.
    minimum: the floor on the mean utility.
    group: the column that names a point's defense.
    also: more columns to copy from the chosen point, with their `*_ci95`.

  Returns:
    One row per value of `group`: `defense`, `point` (None when no point of
    the defense reaches the floor), `num_points_at_floor`, and the chosen
    point's `utility`, `leakage` and `also` with their `*_ci95`, ranked: defenses
    with a point first, least leaky first, then the others in input order.
  """
  by_group = collections.OrderedDict()
  for point in points:
    by_group.setdefault(point.get(group, ''), []).append(point)
  chosen, missing = [], []
  for name, members in by_group.items():
    usable = [p for p in members
              if _at_least(as_number(p.get(utility)), minimum)
              and as_number(p.get(leakage)) is not None]
    best = min(usable, key=lambda p: leakage_order(leakage, as_number(p[leakage])),
               default=None)
    row = collections.OrderedDict(defense=name, point=_name(best), num_points_at_floor=len(usable))
    for column in (utility, leakage, *also):
      row[column] = as_number(best.get(column)) if best else None
      row[f'{column}{CI_SUFFIX}'] = as_number(best.get(f'{column}{CI_SUFFIX}')) if best else None
    (chosen if best else missing).append(row)
  return sorted(chosen, key=lambda r: leakage_order(leakage, r[leakage])) + missing


def _at_least(value: Optional[float], minimum: float) -> bool:
  return value is not None and value >= minimum


def _name(point: Optional[Mapping[str, Any]]) -> Optional[str]:
  if point is None:
    return None
  return point.get('point', point.get('run'))
