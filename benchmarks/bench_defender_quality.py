#!/usr/bin/env python3
"""How good is the defender at CPU scale, and what does each projection share?

Trains the defender on the main job's victim images (`configs/main.flags`:
300 Fashion-MNIST shirts) twice, with the same networks and optimizer:

- plain WGAN-GP (lambda1 = lambda2 = 0): the sanity row. Its G(z) should
  reach an FD of at most 0.3x the other class's, as the undefended
  black-box attacker does on the same images;
- Anti-GAN at the main job's training weights (--lambda1, --lambda2).

Then it projects the 300 images onto the Anti-GAN generator with several
projection settings and scores each X' (generated images only; nothing is
mixed in):

- pixel variance ratio X'/X and the share of saturated pixels (|x| > 0.95);
- mean pairwise SSIM within the set (diversity; X's own is the bar);
- SSIM of each x'_i to its own x_i (how much of x_i the projection keeps);
- FD to held-out shirts, as a multiple of the other class's, and recall;
- central RIAFI with balanced classes: a classifier trained on the
  federation's data with X' in place of X, its recall of the class on the
  test set, next to X's own.

  .venv/bin/python benchmarks/bench_defender_quality.py           # the table
  .venv/bin/python benchmarks/bench_defender_quality.py --quick   # smoke

The trained defenders are saved next to the JSON and reused by a re-run with
the same training settings (to try other projections: --projection_steps,
--restarts).
"""

import argparse
import collections
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _report  # pylint: disable=g-import-not-at-top,wrong-import-position
import bench_black_box  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf import metrics  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.defense import losses  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.defense import projection  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.defense.defender import Defender  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.federated import run_setup  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.federated.config import ExperimentConfig  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.gan import image_grids  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.metrics import class_leakage  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.metrics import similarity  # pylint: disable=g-import-not-at-top,wrong-import-position

TARGET = 6
# (row name, projection settings); None = G(z) sampled, no projection.
PROJECTIONS = (
    ('mean target, projection lambda2 10', dict(target_mode='mean', lambda2=10.0)),
    ('per-sample, projection lambda2 10', dict(lambda2=10.0)),
    ('per-sample, projection lambda2 1', dict(lambda2=1.0)),
    ('per-sample, projection lambda2 0 (Defense-GAN)', dict(lambda2=0.0)),
    ('per-sample, lambda2 1, latent prior 1', dict(lambda2=1.0, latent_weight=1.0)),
    ('per-sample, projection lambda2 1, R 4, L 200', dict(lambda2=1.0, restarts=4, steps=200)),
    ('per-sample, projection lambda2 0, R 4, L 200', dict(lambda2=0.0, restarts=4, steps=200)),
    ('G(z) sampled, no projection', None),
)


def _federation():
  """The main job's clients, with the victim's shirts."""
  config = ExperimentConfig.from_flat({
      'output_dir': 'unused', 'num_clients': 4, 'clients_per_round': 4,
      'max_examples_per_client': 300, 'target_class': TARGET, 'adversary_classes': ('0', '1')})
  return run_setup.load_run_data(config)


def _central_riafi(data, victim_x, epochs):
  """Balanced central RIAFI with `victim_x` as the victim's images."""
  xs, ys = [], []
  for client, (x, y) in data.clients.items():
    if client == data.partition.victim_id:
      x, y = victim_x, np.full(len(victim_x), TARGET, y.dtype)
    xs.append(x)
    ys.append(y)
  x, y = metrics.balanced_subset(np.concatenate(xs), np.concatenate(ys), seed=0)
  return metrics.central_riafi(x, y, data.test_x, data.test_y, target_class=TARGET,
                               epochs=epochs, seed=0)['riafi']


def _row(images, real, held_out, other_fd, data, args):
  row = collections.OrderedDict()
  row['pixel_variance_ratio'] = similarity.pixel_variance(images) / similarity.pixel_variance(real)
  row['saturated_share'] = metrics.saturated_share(images)
  row['mean_pairwise_ssim'] = similarity.mean_pairwise_ssim(images)
  if len(images) == len(real):
    row['own_ssim'] = float(np.mean(np.diag(similarity.pairwise_ssim(images, real))))
  leak = class_leakage.class_leakage_report(images, held_out)
  row['fd'] = leak['frechet_distance']
  row['fd_over_other_class'] = leak['frechet_distance'] / other_fd
  row['recall'] = leak['recall']
  row['central_balanced_riafi'] = _central_riafi(data, images, args.riafi_epochs)
  return row


def _train(x, args, *, lambda1, lambda2, output_dir):
  """(defender, 500 samples of G, training seconds); a defender saved in
  `output_dir` by an earlier run with the same settings is loaded instead."""
  saved = os.path.join(output_dir, f'defender_lambda1_{lambda1:g}_lambda2_{lambda2:g}_'
                       f'epochs_{args.epochs}_width_{args.width}_lr_{args.learning_rate:g}')
  if os.path.exists(saved):
    defender, seconds = Defender.load(saved), float('nan')
  else:
    defender, seconds = _fit(x, args, lambda1=lambda1, lambda2=lambda2)
    defender.save(saved)
  samples = defender.generator(
      np.random.default_rng(0).normal(size=(500, defender.config.latent_dim)).astype(
          np.float32), training=False).numpy()
  image_grids.save_image_grid(
      samples[:64], os.path.join(output_dir, f'samples_lambda1_{lambda1:g}_lambda2_{lambda2:g}.png'))
  return defender, samples, seconds


def _fit(x, args, *, lambda1, lambda2):
  defender = Defender(
      x.shape[1:], lambda1=lambda1, lambda2=lambda2, target_mode='per_sample',
      generator_width=args.width, critic_width=args.width, batch_size=64,
      epochs=args.epochs, generator_learning_rate=args.learning_rate,
      critic_learning_rate=args.learning_rate, adam_beta_1=args.beta_1,
      adam_beta_2=args.beta_2, restarts=args.restarts,
      projection_steps=args.projection_steps, image_grid_every_n_steps=10 ** 6,
      precision=args.precision)
  start = time.perf_counter()
  defender.fit(x, verbose=0)
  return defender, time.perf_counter() - start


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--quick', action='store_true', help='tiny sizes (smoke check)')
  parser.add_argument('--epochs', type=int, default=300,
                      help='defender epochs (5 generator steps each on 300 images)')
  parser.add_argument('--width', type=int, default=16)
  parser.add_argument('--learning_rate', type=float, default=1e-4)
  parser.add_argument('--beta_1', type=float, default=0.0)
  parser.add_argument('--beta_2', type=float, default=0.9)
  parser.add_argument('--lambda1', type=float, default=3.92)
  parser.add_argument('--lambda2', type=float, default=10.0)
  parser.add_argument('--restarts', type=int, default=2)
  parser.add_argument('--projection_steps', type=int, default=40)
  parser.add_argument('--riafi_epochs', type=int, default=3)
  parser.add_argument('--precision', default='float32')
  parser.add_argument('--output', default=_report.default_output('bench_defender_quality'))
  args = parser.parse_args(argv)
  if args.quick:
    args.epochs, args.width, args.projection_steps, args.riafi_epochs = 2, 4, 2, 1

  data = _federation()
  x = data.victim_data[0]
  held_out, other_fd = bench_black_box.float32_judge()
  grid_dir = os.path.splitext(args.output)[0]
  os.makedirs(grid_dir, exist_ok=True)
  results = collections.OrderedDict(settings=vars(args), other_class_fd=other_fd, rows={})
  rows = results['rows']
  rows['X (real, reference)'] = _row(x, x, held_out, other_fd, data, args)

  plain, plain_samples, plain_seconds = _train(x, args, lambda1=0.0, lambda2=0.0,
                                               output_dir=grid_dir)
  rows['plain WGAN-GP G(z) (sanity)'] = _row(plain_samples, x, held_out, other_fd, data, args)
  rows['plain WGAN-GP G(z) (sanity)']['train_seconds'] = plain_seconds
  del plain
  anti, anti_samples, anti_seconds = _train(x, args, lambda1=args.lambda1, lambda2=args.lambda2,
                                            output_dir=grid_dir)
  rows['Anti-GAN G(z)'] = _row(anti_samples, x, held_out, other_fd, data, args)
  rows['Anti-GAN G(z)']['train_seconds'] = anti_seconds

  for name, settings in PROJECTIONS:
    if settings is None:
      images = anti_samples[:len(x)]
    else:
      settings = dict(settings)
      target_mode = settings.pop('target_mode', 'per_sample')
      target = losses.similarity_target(x, mode='mean').numpy() if target_mode == 'mean' else None
      kwargs = {'restarts': args.restarts, 'steps': args.projection_steps, **settings}
      start = time.perf_counter()
      images = projection.project(
          anti.generator, x, lambda1=args.lambda1, target_mode=target_mode, target=target,
          progress=False, **kwargs).images
      seconds = time.perf_counter() - start
    image_grids.save_image_grid(images[:64], os.path.join(
        grid_dir, name.split(',')[0].replace(' ', '_') + f'_{len(rows)}.png'))
    rows[name] = _row(images, x, held_out, other_fd, data, args)
    if settings is not None:
      rows[name]['projection_seconds'] = seconds
    print(name, json.dumps(rows[name]), flush=True)
  results['machine'] = _report.machine_info()
  _report.write_report(results, args.output)


if __name__ == '__main__':
  main()
