"""Benchmarks of the federation on this machine's CPU.

  .venv/bin/python benchmarks/bench_federated.py            # full run
  .venv/bin/python benchmarks/bench_federated.py --quick    # smaller, a smoke check

1. TFF overhead: wall time of one FedAvg round (10 clients of 6,000 real
   Fashion-MNIST images each, 1 local epoch, batch 32) of the project's
   process (client store read by the worker, `build_weighted_fed_avg`),
   against the same local training done with plain Keras `fit` on the same
   client datasets one after another. Rounds and Keras passes alternate in
   the same run, after one warm-up round (TFF tracing); median of repeats.
2. One adversary round (Hitaj et al. generator update + injection, default
   settings: 50 generator steps of batch 64, 100 injected images) next to one
   honest client's local training (Keras `fit`, 6,000 images).

Prints a table and writes JSON to benchmarks/results/bench_federated.json.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import _report  # pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow_federated as tff  # pylint: disable=g-import-not-at-top,wrong-import-position

from antigan_tf import attack  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf import models  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.data import client_store  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.federated import client_data  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.federated import processes  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.federated import runtime  # pylint: disable=g-import-not-at-top,wrong-import-position

_LR = 0.05


def _keras_round(clients, initial_weights, batch_size, preprocess):
  """Each client's local epoch with plain Keras fit, one after another."""
  model = models.build_classifier((28, 28, 1), 10)
  model.compile(optimizer=tf.keras.optimizers.SGD(_LR),
                loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  start = time.perf_counter()
  for x, y in clients.values():
    initial_weights.assign_weights_to(model)
    model.fit(preprocess(tf.data.Dataset.from_tensor_slices((x, y))), epochs=1, verbose=0)
  del batch_size
  return time.perf_counter() - start


def bench_round(*, num_clients: int, per_client: int, repeats: int, batch_size: int = 32):
  clients = _report.fashion_mnist_clients(num_clients, per_client)
  preprocess = client_data.build_preprocess_fn(batch_size=batch_size, seed=0)
  with tempfile.TemporaryDirectory() as tmp:
    store = client_store.write_client_store(os.path.join(tmp, 'store'), clients)
    process = client_data.compose_with_dataset_computation(
        client_data.build_client_data(store).preprocess(preprocess),
        processes.build_learning_process(
            processes.build_model_fn((28, 28, 1), 10), client_learning_rate=_LR),
    )
    initial = processes.initial_model_weights((28, 28, 1), 10, seed=0)
    tff_seconds, keras_seconds = [], []
    with runtime.ManagedRuntime():
      state = process.set_model_weights(process.initialize(), initial)
      start = time.perf_counter()
      process.next(state, store.client_ids)  # Warm-up: tracing and compilation.
      warmup = time.perf_counter() - start
      _keras_round(clients, initial, batch_size, preprocess)  # Keras warm-up too.
      for _ in range(repeats):
        start = time.perf_counter()
        process.next(state, store.client_ids)
        tff_seconds.append(time.perf_counter() - start)
        keras_seconds.append(_keras_round(clients, initial, batch_size, preprocess))
  tff_median = statistics.median(tff_seconds)
  keras_median = statistics.median(keras_seconds)
  return {
      'num_clients': num_clients, 'examples_per_client': per_client, 'local_epochs': 1,
      'batch_size': batch_size, 'repeats': repeats, 'tff_first_round_seconds': warmup,
      'tff_round_seconds': tff_seconds, 'keras_fit_seconds': keras_seconds,
      'tff_round_median': tff_median, 'keras_fit_median': keras_median,
      'ratio_tff_vs_keras': tff_median / keras_median,
  }


def bench_adversary(*, per_client: int, steps: int, num_images: int, repeats: int,
                    batch_size: int = 32):
  clients = _report.fashion_mnist_clients(1, per_client)
  x, y = clients['client_000']
  classifier = models.build_classifier((28, 28, 1), 10)
  attacker = attack.GanAttacker((28, 28, 1), target_class=6, fake_label=1, num_classes=10)
  attacker.train_generator(classifier, steps=1, round_num=0)  # Traces.
  preprocess = client_data.build_preprocess_fn(batch_size=batch_size, seed=0)
  initial = processes.initial_model_weights((28, 28, 1), 10, seed=0)
  _keras_round({'c': (x, y)}, initial, batch_size, preprocess)  # Warm-up.
  adversary_seconds, honest_seconds = [], []
  for r in range(repeats):
    start = time.perf_counter()
    attacker.train_generator(classifier, steps=steps, round_num=r + 1)
    attacker.inject(x, y, num_images=num_images, round_num=r + 1)
    adversary_seconds.append(time.perf_counter() - start)
    honest_seconds.append(_keras_round({'c': (x, y)}, initial, batch_size, preprocess))
  return {
      'generator_steps': steps, 'injected_images': num_images, 'repeats': repeats,
      'adversary_seconds': adversary_seconds, 'honest_client_seconds': honest_seconds,
      'adversary_median': statistics.median(adversary_seconds),
      'honest_client_median': statistics.median(honest_seconds),
  }


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--quick', action='store_true', help='small sizes (smoke check)')
  parser.add_argument('--num_clients', type=int, default=10)
  parser.add_argument('--examples_per_client', type=int, default=6000)
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--attack_steps', type=int, default=50)
  parser.add_argument('--attack_images', type=int, default=100)
  parser.add_argument('--skip_round', action='store_true')
  parser.add_argument('--skip_adversary', action='store_true')
  parser.add_argument('--output', default=_report.default_output('bench_federated'))
  args = parser.parse_args(argv)
  if args.quick:
    args.num_clients, args.examples_per_client, args.repeats = 3, 300, 2
    args.attack_steps, args.attack_images = 3, 10
  report = {
      'machine': _report.machine_info(tensorflow=tf.__version__, tff=tff.__version__),
      'quick': args.quick,
  }
  if not args.skip_round:
    r = report['round'] = bench_round(
        num_clients=args.num_clients, per_client=args.examples_per_client, repeats=args.repeats)
    print(f'\nOne FedAvg round: {r["num_clients"]} clients x {r["examples_per_client"]} images, '
          f'1 local epoch, batch {r["batch_size"]}')
    print(f'  TFF first round (tracing): {r["tff_first_round_seconds"]:.1f} s')
    print(f'  TFF round      : {", ".join(f"{s:.1f}" for s in r["tff_round_seconds"])} s '
          f'(median {r["tff_round_median"]:.1f})')
    print(f'  Keras fit x {r["num_clients"]:<3}: {", ".join(f"{s:.1f}" for s in r["keras_fit_seconds"])} s '
          f'(median {r["keras_fit_median"]:.1f})')
    print(f'  ratio TFF / Keras = {r["ratio_tff_vs_keras"]:.2f} (target <= 1.5)')
  if not args.skip_adversary:
    a = report['adversary'] = bench_adversary(
        per_client=args.examples_per_client, steps=args.attack_steps,
        num_images=args.attack_images, repeats=args.repeats)
    print(f'\nAdversary round ({a["generator_steps"]} generator steps, {a["injected_images"]} '
          f'injected) vs one honest client\'s local epoch:')
    print(f'  adversary      : median {a["adversary_median"]:.2f} s')
    print(f'  honest client  : median {a["honest_client_median"]:.2f} s')
  _report.write_report(report, args.output)
  return 0


if __name__ == '__main__':
  sys.exit(main())
