#!/usr/bin/env python3
"""What does the adaptive attacker cost, and how much of a defense does it undo?

On the main job's data (`configs/main.flags`): the adversary's own 300 images
(T-shirts and trousers) and the victim's 300 shirts.

1. Cost. The pairs: a baseline (Gaussian blur, sigma 2) and Anti-GAN with the
   main job's defender settings (one defender per class, as the victim's).
   The inversion network's training speed (steps/s) in float32 and
   mixed_bfloat16: median of `--repeats` runs of `--speed_steps` steps, the
   ratio from the same runs.
2. Quality against steps. For each defense and most steps: where early
   stopping on the held-out pairs ended it, and the mean L1 to the originals
   of the defended and of the inverted images, on the adversary's held-out
   pairs and on the victim's shirts (a class the attacker never saw: does
   the inversion carry over?).

  .venv/bin/python benchmarks/bench_adaptive.py            # the measured grid
  .venv/bin/python benchmarks/bench_adaptive.py --quick    # tiny, a smoke run
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

import _report  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.attack import adaptive  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.experiments import run_flags  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.federated import run_setup  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.federated.config import ExperimentConfig  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.gan import image_grids  # pylint: disable=g-import-not-at-top,wrong-import-position

MAIN_FLAGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'configs',
                          'main.flags')


def main_job_config(**overrides) -> ExperimentConfig:
  """configs/main.flags with --defense=anti_gan, as run_tff reads it."""
  values = run_flags.parse_run_flags([f'--flagfile={MAIN_FLAGS}', '--defense=anti_gan'])
  return ExperimentConfig.from_flat({**values, 'output_dir': 'unused', **overrides})


def defended_pairs(name, config, own, target):
  """(adversary's pairs, the victim's shirts defended alike, seconds for the pairs)."""
  start = time.monotonic()
  if name == 'anti_gan':
    defended, originals = adaptive.anti_gan_pairs(config.defense.defender, *own)
    seconds = time.monotonic() - start
    shirts, _ = adaptive.anti_gan_pairs(config.defense.defender, target,
                                        np.full(len(target), 6))
  else:
    defended, originals = adaptive.baseline_pairs('gaussian_blur', *own, strength=2.0)
    seconds = time.monotonic() - start
    shirts, _ = adaptive.baseline_pairs('gaussian_blur', target, np.full(len(target), 6),
                                        strength=2.0)
  return (defended, originals), shirts, seconds


def speed(pairs, *, steps: int, repeats: int, width: int) -> dict:
  """Median steps/s per precision over `repeats` runs, alternating precisions."""
  times = {'float32': [], 'mixed_bfloat16': []}
  for _ in range(repeats):
    for precision in times:
      start = time.monotonic()
      adaptive.train_inversion_network(*pairs, steps=steps, width=width, precision=precision)
      times[precision].append(steps / (time.monotonic() - start))
  medians = {p: statistics.median(v) for p, v in times.items()}
  return {'steps': steps, 'repeats': repeats, 'steps_per_second': medians,
          'all_steps_per_second': times,
          'bfloat16_over_float32': medians['mixed_bfloat16'] / medians['float32']}


def quality(pairs, shirts, target, *, steps: int, width: int, grid_path: str) -> dict:
  start = time.monotonic()
  result = adaptive.train_inversion_network(*pairs, steps=steps, width=width)
  seconds = time.monotonic() - start
  inverted = adaptive.invert(result.network, shirts)
  for stage, images in (('defended', shirts), ('inverted', inverted)):
    image_grids.save_image_grid(images[:64], grid_path.replace('.png', f'_{stage}.png'))
  held_out = result.history.get('held_out_l1', [])
  best = result.history['step'][held_out.index(min(held_out))] if held_out else steps
  return {'steps': steps, 'stopped_at': result.history['step'][-1], 'best_step': best,
          'seconds': round(seconds, 1), **result.validation,
          'shirts_l1_defended': float(np.mean(np.abs(shirts - target))),
          'shirts_l1_inverted': float(np.mean(np.abs(inverted - target)))}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--quick', action='store_true', help='tiny settings, a smoke run')
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--speed_steps', type=int, default=200)
  parser.add_argument('--output', default=_report.default_output('adaptive'))
  args = parser.parse_args()
  quick = dict(defender_epochs=1, defender_restarts=1, defender_projection_steps=2)
  config = main_job_config(**(quick if args.quick else {}))
  width = config.attack.adaptive_width
  data = run_setup.load_run_data(config)
  own = data.clients[data.partition.adversary_id]
  target = data.real_target
  steps_grid = (5, 10) if args.quick else (1000, 3000)
  if args.quick:
    own, target = (own[0][:40], own[1][:40]), target[:20]
  report = {'machine': _report.machine_info(), 'own_images': len(own[0]),
            'target_images': len(target), 'width': width, 'defenses': {}}
  for name in ('gaussian_blur', 'anti_gan'):
    pairs, shirts, pair_seconds = defended_pairs(name, config, own, target)
    row = {'pairs': len(pairs[0]), 'pair_seconds': round(pair_seconds, 1)}
    if name == 'gaussian_blur':  # The network's speed does not depend on the defense.
      row['speed'] = speed(pairs, steps=5 if args.quick else args.speed_steps,
                           repeats=1 if args.quick else args.repeats, width=width)
    row['quality'] = []
    for steps in steps_grid:
      grid = os.path.join(os.path.dirname(args.output), f'adaptive_{name}_{steps}.png')
      row['quality'].append(quality(pairs, shirts, target, steps=steps, width=width,
                                    grid_path=grid))
      print(name, json.dumps(row['quality'][-1]), flush=True)
    report['defenses'][name] = row
  _report.write_report(report, args.output)


if __name__ == '__main__':
  main()
