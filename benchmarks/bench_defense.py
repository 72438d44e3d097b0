"""Benchmarks of the Anti-GAN defender on this machine's CPU.

  .venv/bin/python benchmarks/bench_defense.py            # full run
  .venv/bin/python benchmarks/bench_defense.py --quick    # smaller, for a smoke check

1. WGAN-GP training throughput (generator steps/s; n_critic = 5, batch 64, the
   28x28x1 networks of `antigan_tf.models`) of `antigan_tf.gan.WGANGP`
   against the keras.io WGAN-GP example pattern (three critic passes per
   critic step: fake, real, interpolated) on identical networks and initial
   weights, measured alternately in the same run; median of several repeats.
2. Projection: time for N images with R restarts against N*R images with one
   restart (same L steps); target ratio <= 1.2 (restarts are batched). Then
   images/s for N=1000, R=10, L=200.

Prints a table and writes JSON to benchmarks/results/bench_defense.json.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import _report  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position

from antigan_tf import models  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.gan import WGANGP  # pylint: disable=g-import-not-at-top,wrong-import-position


class KerasIOWGAN(tf.keras.Model):
  """The keras.io `examples/generative/wgan_gp.py` training step, verbatim in
  structure (separate critic calls on fake, real and interpolated images),
  with its interpolation weight fixed to U[0, 1] so both compute the same
  objective."""

  def __init__(self, discriminator, generator, latent_dim, discriminator_extra_steps=5,
               gp_weight=10.0):
    super().__init__()
    self.discriminator = discriminator
    self.generator = generator
    self.latent_dim = latent_dim
    self.d_steps = discriminator_extra_steps
    self.gp_weight = gp_weight

  def compile(self, d_optimizer, g_optimizer):  # pylint: disable=arguments-differ
    super().compile()
    self.d_optimizer = d_optimizer
    self.g_optimizer = g_optimizer

  def gradient_penalty(self, batch_size, real_images, fake_images):
    alpha = tf.random.uniform([batch_size, 1, 1, 1], 0.0, 1.0)
    interpolated = real_images + alpha * (fake_images - real_images)
    with tf.GradientTape() as gp_tape:
      gp_tape.watch(interpolated)
      pred = self.discriminator(interpolated, training=True)
    grads = gp_tape.gradient(pred, [interpolated])[0]
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
    return tf.reduce_mean((norm - 1.0) ** 2)

  def train_step(self, real_images):
    batch_size = tf.shape(real_images)[0]
    for _ in range(self.d_steps):
      z = tf.random.normal(shape=(batch_size, self.latent_dim))
      with tf.GradientTape() as tape:
        fake_images = self.generator(z, training=True)
        fake_logits = self.discriminator(fake_images, training=True)
        real_logits = self.discriminator(real_images, training=True)
        d_cost = tf.reduce_mean(fake_logits) - tf.reduce_mean(real_logits)
        gp = self.gradient_penalty(batch_size, real_images, fake_images)
        d_loss = d_cost + gp * self.gp_weight
      d_gradient = tape.gradient(d_loss, self.discriminator.trainable_variables)
      self.d_optimizer.apply_gradients(zip(d_gradient, self.discriminator.trainable_variables))
    z = tf.random.normal(shape=(batch_size, self.latent_dim))
    with tf.GradientTape() as tape:
      generated = self.generator(z, training=True)
      g_loss = -tf.reduce_mean(self.discriminator(generated, training=True))
    gen_gradient = tape.gradient(g_loss, self.generator.trainable_variables)
    self.g_optimizer.apply_gradients(zip(gen_gradient, self.generator.trainable_variables))
    return {'d_loss': d_loss, 'g_loss': g_loss}


def _adam():
  return tf.keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9)


def _build_pair(init_weights):
  generator = models.build_generator((28, 28, 1), latent_dim=100)
  critic = models.build_critic((28, 28, 1))
  generator.set_weights(init_weights[0])
  critic.set_weights(init_weights[1])
  return generator, critic


def _steps_per_second(model, dataset, steps):
  """Generator steps per second over `steps` steps (after a compile step)."""
  model.fit(dataset.take(1), epochs=1, verbose=0)  # Traces and compiles.
  start = time.perf_counter()
  model.fit(dataset.take(steps), epochs=1, verbose=0)
  return steps / (time.perf_counter() - start)


def bench_wgan_gp(*, steps: int, repeats: int, batch_size: int = 64, n_critic: int = 5):
  rng = np.random.default_rng(0)
  x = rng.uniform(-1, 1, (batch_size * (steps + 1), 28, 28, 1)).astype(np.float32)
  dataset = tf.data.Dataset.from_tensor_slices(x).batch(batch_size, drop_remainder=True).cache()
  tf.keras.utils.set_random_seed(0)
  g0 = models.build_generator((28, 28, 1), latent_dim=100)
  c0 = models.build_critic((28, 28, 1))
  init = (g0.get_weights(), c0.get_weights())

  def ours():
    model = WGANGP(*_build_pair(init), n_critic=n_critic)
    model.compile(generator_optimizer=_adam(), critic_optimizer=_adam())
    return model

  def ours_xla():
    model = WGANGP(*_build_pair(init), n_critic=n_critic)
    model.compile(generator_optimizer=_adam(), critic_optimizer=_adam(), jit_compile=True)
    return model

  def keras_io():
    generator, critic = _build_pair(init)
    model = KerasIOWGAN(critic, generator, 100, discriminator_extra_steps=n_critic)
    model.compile(d_optimizer=_adam(), g_optimizer=_adam())
    return model

  variants = {'keras_io': keras_io, 'antigan_tf': ours, 'antigan_tf_xla': ours_xla}
  built = {name: make() for name, make in variants.items()}
  runs = {name: [] for name in variants}
  for _ in range(repeats):  # Alternate so machine noise hits all alike.
    for name, model in built.items():
      runs[name].append(_steps_per_second(model, dataset, steps))
  medians = {name: statistics.median(v) for name, v in runs.items()}
  return {
      'batch_size': batch_size,
      'n_critic': n_critic,
      'steps_per_repeat': steps,
      'repeats': repeats,
      'generator_steps_per_second': runs,
      'median_steps_per_second': medians,
      'ratio_vs_keras_io': medians['antigan_tf'] / medians['keras_io'],
      'ratio_xla_vs_keras_io': medians['antigan_tf_xla'] / medians['keras_io'],
  }


def bench_projection(*, n: int, restarts: int, steps: int, repeats: int,
                     full_n: int, full_restarts: int, full_steps: int):
  from antigan_tf.defense import projection  # pylint: disable=g-import-not-at-top

  tf.keras.utils.set_random_seed(0)
  generator = models.build_generator((28, 28, 1), latent_dim=100)
  rng = np.random.default_rng(0)
  common = dict(lambda1=3.92, lambda2=48.0, target_mode='per_sample', progress=False)

  def timed(x, r, l):
    start = time.perf_counter()
    projection.project(generator, x, restarts=r, steps=l, **common)
    return time.perf_counter() - start

  x_n = rng.uniform(-1, 1, (n, 28, 28, 1)).astype(np.float32)
  x_nr = rng.uniform(-1, 1, (n * restarts, 28, 28, 1)).astype(np.float32)
  timed(x_n[:8], restarts, 1)  # Warm up tracing paths.
  timed(x_nr[:8], 1, 1)
  batched, flat = [], []
  for _ in range(repeats):
    batched.append(timed(x_n, restarts, steps))
    flat.append(timed(x_nr, 1, steps))
  result = {
      'n': n, 'restarts': restarts, 'steps': steps, 'repeats': repeats,
      'seconds_n_images_r_restarts': batched,
      'seconds_nr_images_1_restart': flat,
      'ratio': statistics.median(batched) / statistics.median(flat),
  }
  x_full = rng.uniform(-1, 1, (full_n, 28, 28, 1)).astype(np.float32)
  seconds = timed(x_full, full_restarts, full_steps)
  result.update(
      full_n=full_n, full_restarts=full_restarts, full_steps=full_steps,
      full_seconds=seconds, full_images_per_second=full_n / seconds,
  )
  return result


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--quick', action='store_true', help='small sizes (smoke check)')
  parser.add_argument('--skip_projection', action='store_true')
  parser.add_argument('--skip_wgan', action='store_true')
  parser.add_argument('--wgan_steps', type=int, default=8, help='generator steps per timed run')
  parser.add_argument('--wgan_repeats', type=int, default=5)
  parser.add_argument('--proj_n', type=int, default=8, help='N for the batching ratio')
  parser.add_argument('--proj_restarts', type=int, default=8)
  parser.add_argument('--proj_steps', type=int, default=20)
  parser.add_argument('--proj_repeats', type=int, default=3)
  parser.add_argument('--full_n', type=int, default=1000,
                      help='N for the images/s figure (R=10, L=200 by default)')
  parser.add_argument('--full_restarts', type=int, default=10)
  parser.add_argument('--full_steps', type=int, default=200)
  parser.add_argument('--output', default=_report.default_output('bench_defense'))
  args = parser.parse_args(argv)
  report = {
      'machine': _report.machine_info(tensorflow=tf.__version__),
      'quick': args.quick,
  }
  if not args.skip_wgan:
    report['wgan_gp'] = bench_wgan_gp(steps=3 if args.quick else args.wgan_steps,
                                      repeats=2 if args.quick else args.wgan_repeats)
    w = report['wgan_gp']
    print('\nWGAN-GP training (n_critic=5, batch 64, 28x28x1), generator steps/s:')
    print(f'  {"variant":<16}{"median":>10}   runs')
    for name, value in w['median_steps_per_second'].items():
      runs = ', '.join(f'{v:.2f}' for v in w['generator_steps_per_second'][name])
      print(f'  {name:<16}{value:>10.2f}   [{runs}]')
    print(f'  ratio antigan_tf / keras_io     = {w["ratio_vs_keras_io"]:.2f} (target >= 1.3)')
    print(f'  ratio antigan_tf_xla / keras_io = {w["ratio_xla_vs_keras_io"]:.2f}')
  if not args.skip_projection:
    if args.quick:
      sizes = dict(n=16, restarts=4, steps=5, repeats=2, full_n=32, full_restarts=4, full_steps=5)
    else:
      sizes = dict(n=args.proj_n, restarts=args.proj_restarts, steps=args.proj_steps,
                   repeats=args.proj_repeats, full_n=args.full_n,
                   full_restarts=args.full_restarts, full_steps=args.full_steps)
    report['projection'] = bench_projection(**sizes)
    p = report['projection']
    print(f'\nProjection (L={p["steps"]}): N={p["n"]} x R={p["restarts"]} restarts vs '
          f'N*R={p["n"] * p["restarts"]} x 1 restart')
    print(f'  seconds batched  : {", ".join(f"{s:.2f}" for s in p["seconds_n_images_r_restarts"])}')
    print(f'  seconds flat     : {", ".join(f"{s:.2f}" for s in p["seconds_nr_images_1_restart"])}')
    print(f'  ratio (median)   = {p["ratio"]:.3f} (target <= 1.2)')
    print(f'  N={p["full_n"]}, R={p["full_restarts"]}, L={p["full_steps"]}: '
          f'{p["full_seconds"]:.1f} s, {p["full_images_per_second"]:.2f} images/s')
  _report.write_report(report, args.output)
  return 0


if __name__ == '__main__':
  sys.exit(main())
