#!/usr/bin/env python3
"""float32 against mixed_bfloat16: the attackers' speed and strength, same run.

For each precision, in alternating order over the repeats:
- the black-box attacker (`attack.train_black_box_attacker`) trains on the
  main job's victim images (300 shirts of Fashion-MNIST) for --steps generator
  steps; its wall time (tracing included) gives steps/s, and 500 of its
  samples are scored by the evaluation network (float32, the same judge for
  both) against held-out real shirts: the Fréchet distance and its ratio to
  the nearest other class's;
- the Hitaj et al. adversary's generator (`attack.GanAttacker`, with the
  main job's image prior) trains for --hitaj_steps steps against a float32
  classifier, at --width and at 64 filters: steps/s.
Each speed is given per wall second and per CPU second of the process (this
machine's wall times swing up to 2x between identical runs: its CPU is
shared). The speed-up is the ratio of the medians of the same run.

  .venv/bin/python benchmarks/bench_precision.py            # the measured figures
  .venv/bin/python benchmarks/bench_precision.py --quick    # a short check
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _report  # pylint: disable=g-import-not-at-top,wrong-import-position
import bench_black_box  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf import attack  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf import models  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.gan import image_grids  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.metrics import class_leakage  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.utils import precision as precision_lib  # pylint: disable=g-import-not-at-top,wrong-import-position

PRECISIONS = (precision_lib.FLOAT32, precision_lib.MIXED_BFLOAT16)


def _black_box(images, judge, *, steps, width, precision):
  start, cpu_start = time.monotonic(), time.process_time()
  result = attack.train_black_box_attacker(
      images, steps=steps, width=width, seed=0, num_reconstructions=500, precision=precision)
  seconds, cpu_seconds = time.monotonic() - start, time.process_time() - cpu_start
  held_out, other_fd = judge
  fd = class_leakage.class_leakage_report(result.reconstructions, held_out)['frechet_distance']
  return {'black_box_seconds': round(seconds, 1), 'black_box_steps_per_s': steps / seconds,
          'black_box_steps_per_cpu_s': steps / cpu_seconds,
          'frechet_distance': fd, 'fd_over_other_class': fd / other_fd}, result.reconstructions


def _hitaj(*, steps, width, precision):
  """Generator steps/s of the Hitaj adversary (with its image prior, as in the main job)."""
  classifier = models.build_classifier((28, 28, 1), 11)
  attacker = attack.GanAttacker((28, 28, 1), target_class=6, fake_label=10, num_classes=11,
                                generator_width=width, prior_weight=0.1, precision=precision)
  prior = np.random.default_rng(0).uniform(-1, 1, (300, 28, 28, 1)).astype(np.float32)
  attacker.train_generator(classifier, steps=1, round_num=0, prior_images=prior)  # Traces.
  start, cpu_start = time.monotonic(), time.process_time()
  attacker.train_generator(classifier, steps=steps, round_num=1, prior_images=prior)
  return {f'hitaj_w{width}_steps_per_s': steps / (time.monotonic() - start),
          f'hitaj_w{width}_steps_per_cpu_s': steps / (time.process_time() - cpu_start)}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--quick', action='store_true', help='few steps, one repeat')
  parser.add_argument('--steps', type=int, default=1500, help='black-box generator steps')
  parser.add_argument('--hitaj_steps', type=int, default=100, help='Hitaj generator steps')
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--width', type=int, default=16, help='networks\' base filters')
  parser.add_argument('--output', default=_report.default_output('precision'))
  args = parser.parse_args()
  if args.quick:
    args.steps, args.hitaj_steps, args.repeats = 30, 20, 1
  images = bench_black_box.main_job_victim_images()
  judge = bench_black_box.float32_judge()
  runs = {p: [] for p in PRECISIONS}
  for repeat in range(args.repeats):
    order = PRECISIONS if repeat % 2 == 0 else PRECISIONS[::-1]
    for precision in order:
      row, samples = _black_box(images, judge, steps=args.steps, width=args.width,
                                precision=precision)
      for width in (args.width, 64):
        row.update(_hitaj(steps=args.hitaj_steps, width=width, precision=precision))
      row.update(precision=precision, repeat=repeat)
      runs[precision].append(row)
      print(json.dumps(row), flush=True)
      image_grids.save_image_grid(samples[:64], os.path.join(
          os.path.dirname(args.output), f'precision_{precision}_{repeat}.png'))
  medians = {
      p: {k: statistics.median(r[k] for r in rows) for k in rows[0] if k not in (
          'precision', 'repeat')} for p, rows in runs.items()}
  speedup = {k: medians[PRECISIONS[1]][k] / medians[PRECISIONS[0]][k]
             for k in medians[PRECISIONS[0]] if 'steps_per' in k}
  print(json.dumps({'medians': medians, 'bf16_speedup': speedup}, indent=1))
  _report.write_report({
      'machine': _report.machine_info(), 'cpu_has_bf16': precision_lib.cpu_supports_bfloat16(),
      'steps': args.steps, 'hitaj_steps': args.hitaj_steps, 'width': args.width,
      'repeats': args.repeats, 'other_class_fd': judge[1], 'runs': runs, 'medians': medians,
      'bf16_speedup': speedup}, args.output)


if __name__ == '__main__':
  main()
