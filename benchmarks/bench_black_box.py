#!/usr/bin/env python3
"""How strong is the black-box attacker on the main job's undefended victim?

Trains the black-box attacker (`antigan_tf.attack.train_black_box_attacker`)
on the victim's real images of the main job (`configs/main.flags`: 300 shirts
of Fashion-MNIST), for each setting of steps and Adam parameters, and scores
500 samples with the evaluation network against held-out real shirts: the
Fréchet distance, its ratio to the nearest other class's (the target of a
working attack is 0.3 or less), KID, recall and coverage. One seed; a grid of
64 samples per setting goes next to the JSON.

  .venv/bin/python benchmarks/bench_black_box.py            # the measured grid
  .venv/bin/python benchmarks/bench_black_box.py --quick    # 2 short settings
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _report  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf import attack  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf import layout  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.data import sources  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.federated import run_setup  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.federated.config import ExperimentConfig  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.gan import image_grids  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.metrics import class_leakage  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.metrics import evaluation_network  # pylint: disable=g-import-not-at-top,wrong-import-position

# (steps, learning rate, beta_1); beta_2 is 0.9 throughout.
GRID = ((200, 1e-4, 0.0), (1500, 1e-4, 0.0), (1500, 2e-4, 0.5), (3000, 2e-4, 0.5))
QUICK = ((20, 1e-4, 0.0), (40, 2e-4, 0.5))


def main_job_victim_images():
  config = ExperimentConfig.from_flat({
      'output_dir': 'unused', 'num_clients': 4, 'clients_per_round': 4,
      'max_examples_per_client': 300, 'target_class': 6, 'adversary_classes': ('0', '1')})
  x, y = run_setup.load_run_data(config).victim_data
  return x[y == 6]


def float32_judge(*, with_other_class: bool = False):
  """(held-out shirts scored by the float32 evaluation network, the nearest
  other class's FD to them[, that class])."""
  network = evaluation_network.load_or_train_evaluation_network(
      layout.CacheLayout().evaluation_dir, precision='float32', progress=False)
  test = sources.load_dataset('fashion_mnist', split='test')
  scored, _ = class_leakage.split_held_out(test.x, test.y, 6)
  held_out = class_leakage.HeldOut(network, scored, 6)
  other = class_leakage.nearest_other_class(network, test.x, test.y, 6)
  other_fd = class_leakage.class_leakage_report(
      test.x[test.y == other][:500], held_out)['frechet_distance']
  return (held_out, other_fd, other) if with_other_class else (held_out, other_fd)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--quick', action='store_true', help='two short settings')
  parser.add_argument('--width', type=int, default=16, help='networks\' base filters')
  parser.add_argument('--output', default=_report.default_output('black_box'))
  args = parser.parse_args()
  images = main_job_victim_images()
  held_out, other_fd, other = float32_judge(with_other_class=True)
  rows = []
  for steps, learning_rate, beta_1 in (QUICK if args.quick else GRID):
    start = time.monotonic()
    result = attack.train_black_box_attacker(
        images, steps=steps, width=args.width, learning_rate=learning_rate, beta_1=beta_1,
        beta_2=0.9, seed=0, num_reconstructions=500)
    seconds = time.monotonic() - start
    report = class_leakage.class_leakage_report(result.reconstructions, held_out)
    row = {'steps': steps, 'learning_rate': learning_rate, 'beta_1': beta_1, 'beta_2': 0.9,
           'seconds': round(seconds, 1), 'frechet_distance': report['frechet_distance'],
           'fd_over_other_class': report['frechet_distance'] / other_fd, 'kid': report['kid'],
           'recall': report['recall'], 'coverage': report['coverage']}
    rows.append(row)
    print(json.dumps(row), flush=True)
    image_grids.save_image_grid(result.reconstructions[:64], os.path.join(
        os.path.dirname(args.output), f'black_box_{steps}_{learning_rate}_{beta_1}.png'))
  _report.write_report({'machine': _report.machine_info(), 'victim_images': len(images),
                        'other_class': other, 'other_class_fd': other_fd, 'width': args.width,
                        'rows': rows}, args.output)


if __name__ == '__main__':
  main()
