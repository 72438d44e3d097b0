"""The frontier's verdict, on hand-built seed summaries."""

import pytest

from antigan_tf.experiments import sweep_report
from antigan_tf.experiments import verdict


def _point(name, defense, ratio, fd, ratio_ci=0.05, fd_ci=1.0, accuracy_ratio=1.0):
  return {'point': name, 'defense': defense, 'riafi_ratio': ratio, 'riafi_ratio_ci95': ratio_ci,
          'test_accuracy_ratio': accuracy_ratio,
          'black_box.frechet_distance': fd, 'black_box.frechet_distance_ci95': fd_ci,
          'black_box.mean_pairwise_ssim': fd / 100}


POINTS = [
    _point('defense=none', 'none', 1.0, 2.0),
    _point('defense=anti_gan,l2=1', 'anti_gan', 0.95, 4.0),
    _point('defense=anti_gan,l2=10', 'anti_gan', 0.91, 6.0),
    _point('defense=anti_gan,l2=48', 'anti_gan', 0.5, 30.0),  # Below the floor.
    _point('defense=dp,nm=0.1', 'dp', 0.98, 3.0),
    _point('defense=dp,nm=1', 'dp', 0.2, 12.0),
    # A high RIAFI from a model that calls everything the class: no utility.
    _point('defense=dp,nm=2', 'dp', 2.1, 20.0, accuracy_ratio=0.6),
    _point('defense=drop_class', 'drop_class', 0.0, 40.0),
]


def test_each_defense_keeps_its_least_leaky_point_at_the_floor_ranked():
  rows = verdict.least_leaking_at_utility(POINTS)
  assert [(r['defense'], r['point']) for r in rows] == [
      ('anti_gan', 'defense=anti_gan,l2=10'), ('dp', 'defense=dp,nm=0.1'),
      ('none', 'defense=none'), ('drop_class', None)]
  anti_gan = rows[0]
  assert anti_gan['num_points_at_floor'] == 2
  assert anti_gan['riafi_ratio'] == 0.91 and anti_gan['black_box.frechet_distance'] == 6.0
  assert anti_gan['black_box.frechet_distance_ci95'] == 1.0
  assert rows[-1]['num_points_at_floor'] == 0 and rows[-1]['riafi_ratio'] is None


def test_the_floors_and_a_similarity_metric_change_the_choice():
  rows = verdict.least_leaking_at_utility(POINTS, floors={'riafi_ratio': 0.4})
  assert rows[0]['point'] == 'defense=anti_gan,l2=48'  # 30 > 6 once 0.5 is enough.
  # Without the test-accuracy floor, dp's broken model would be its best point.
  assert rows[1]['point'] == 'defense=dp,nm=2'
  rows = verdict.least_leaking_at_utility(
      POINTS, floors={'riafi_ratio': 0.4, 'test_accuracy_ratio': 0.9})
  assert [r['point'] for r in rows[:2]] == ['defense=anti_gan,l2=48', 'defense=dp,nm=0.1']
  # A similarity leaks less when lower: the smallest SSIM wins.
  rows = verdict.least_leaking_at_utility(POINTS, leakage='black_box.mean_pairwise_ssim')
  assert [r['defense'] for r in rows[:3]] == ['none', 'dp', 'anti_gan']
  assert rows[2]['point'] == 'defense=anti_gan,l2=1'


def test_leakage_order_by_hand():
  assert verdict.leakage_order('black_box.frechet_distance', 5.0) == -5.0
  assert verdict.leakage_order('kid', 0.1) == pytest.approx(-0.1)
  assert verdict.leakage_order('black_box.nn_ssim_mean', 0.3) == 0.3


def test_missing_values_never_reach_the_floor():
  points = [{'point': 'a', 'defense': 'x', 'riafi_ratio': '', 'black_box.frechet_distance': 9},
            {'point': 'b', 'defense': 'x', 'riafi_ratio': 0.95, 'black_box.frechet_distance': ''},
            {'point': 'c', 'defense': 'x', 'riafi_ratio': 0.95, 'black_box.frechet_distance': 9}]
  # a: no RIAFI; b: no leakage; c: no test-accuracy ratio.
  assert verdict.least_leaking_at_utility(points)[0]['point'] is None


def test_report_verdict_table():
  text = '\n'.join(sweep_report.verdict_table(POINTS))
  assert text.startswith('## Verdict')
  assert '**black_box, riafi_ratio >= 0.9 and test_accuracy_ratio >= 0.9:**' in text
  assert '| anti_gan | defense=anti_gan,l2=10 | 2 | 0.91 ± 0.05 | 1 | 6 ± 1 |' in text
  assert '| drop_class | (none reaches the floors) | 0 |' in text
  assert 'central_riafi_ratio' not in text  # No point has it.
  assert sweep_report.verdict_table([]) == []
