"""Benchmark: one FedAvg round on 1, 2 and 4 local TFF workers.

  .venv/bin/python benchmarks/bench_workers.py            # full run
  .venv/bin/python benchmarks/bench_workers.py --quick    # smaller, a smoke check

The project's FedAvg process (client store read by the workers,
`build_weighted_fed_avg`) runs rounds of 100 clients of 300 real
Fashion-MNIST images each (1 local epoch, batch 32) on `ManagedRuntime`s of
1, 2 and 4 local workers (isolated in network namespaces, the default where
available), plus 2 unisolated workers to price the Unix-socket relay. Each
repeat visits every configuration in turn (so load drifts hit them alike):
start the workers, one warm-up round (tracing, compilation), then timed
rounds. Reported: median round time per configuration, its ratio to one
worker measured in the same run, and the bytes each worker sent and
received per round (serialized gRPC messages, counted by the runtime).

Prints a table and writes JSON to benchmarks/results/bench_workers.json.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import _report  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow_federated as tff  # pylint: disable=g-import-not-at-top,wrong-import-position

from antigan_tf.data import client_store  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.federated import client_data  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.federated import processes  # pylint: disable=g-import-not-at-top,wrong-import-position
from antigan_tf.federated import runtime  # pylint: disable=g-import-not-at-top,wrong-import-position

# (label, number of local workers, isolate_local_workers)
_CONFIGS = (('1 worker', 1, None), ('2 workers', 2, None), ('4 workers', 4, None),
            ('2 workers, unisolated', 2, False))


def _time_rounds(process, initial, client_ids, *, num_workers, isolate, rounds):
  with runtime.ManagedRuntime(num_workers=num_workers, isolate_local_workers=isolate) as rt:
    state = process.set_model_weights(process.initialize(), initial)
    state = process.next(state, client_ids).state  # Warm-up: tracing, compilation.
    sent = [w.bytes_sent for w in rt.workers]
    received = [w.bytes_received for w in rt.workers]
    seconds = []
    for _ in range(rounds):
      start = time.perf_counter()
      state = process.next(state, client_ids).state
      seconds.append(time.perf_counter() - start)
    sent = [(w.bytes_sent - s) / rounds for w, s in zip(rt.workers, sent)]
    received = [(w.bytes_received - r) / rounds for w, r in zip(rt.workers, received)]
    isolated = all(getattr(w, 'isolated', False) for w in rt.workers)
  return seconds, sent, received, isolated


def bench(*, num_clients: int, per_client: int, repeats: int, rounds: int,
          batch_size: int = 32):
  clients = _report.fashion_mnist_clients(num_clients, per_client)
  preprocess = client_data.build_preprocess_fn(batch_size=batch_size, seed=0)
  model_fn = processes.build_model_fn((28, 28, 1), 10)
  results = {label: {'round_seconds': [], 'num_workers': n} for label, n, _ in _CONFIGS}
  with tempfile.TemporaryDirectory() as tmp:
    store = client_store.write_client_store(os.path.join(tmp, 'store'), clients)
    process = client_data.compose_with_dataset_computation(
        client_data.build_client_data(store).preprocess(preprocess),
        processes.build_learning_process(model_fn, client_learning_rate=0.05),
    )
    initial = processes.initial_model_weights((28, 28, 1), 10, seed=0)
    for repeat in range(repeats):
      for label, num_workers, isolate in _CONFIGS:
        seconds, sent, received, isolated = _time_rounds(
            process, initial, store.client_ids, num_workers=num_workers, isolate=isolate,
            rounds=rounds)
        entry = results[label]
        entry['round_seconds'].extend(seconds)
        entry['bytes_sent_per_worker_per_round'] = sent
        entry['bytes_received_per_worker_per_round'] = received
        entry['isolated'] = isolated
        print(f'repeat {repeat + 1}/{repeats}  {label:<22}: '
              f'{", ".join(f"{s:.2f}" for s in seconds)} s', flush=True)
  one = statistics.median(results['1 worker']['round_seconds'])
  for entry in results.values():
    entry['median_round_seconds'] = statistics.median(entry['round_seconds'])
    entry['speedup_vs_1_worker'] = one / entry['median_round_seconds']
  model_bytes = sum(int(np.prod(v.shape)) * 4 for v in initial.trainable)
  return {
      'num_clients': num_clients, 'examples_per_client': per_client, 'local_epochs': 1,
      'batch_size': batch_size, 'repeats': repeats, 'timed_rounds_per_repeat': rounds,
      'model_bytes': model_bytes, 'client_record_bytes': per_client * (4 + 28 * 28 * 4),
      'configs': results,
  }


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--quick', action='store_true', help='small sizes (smoke check)')
  parser.add_argument('--num_clients', type=int, default=100)
  parser.add_argument('--examples_per_client', type=int, default=300)
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--rounds', type=int, default=2, help='timed rounds per repeat')
  parser.add_argument('--output', default=_report.default_output('bench_workers'))
  args = parser.parse_args(argv)
  if args.quick:
    args.num_clients, args.examples_per_client, args.repeats, args.rounds = 8, 50, 1, 1
  report = {
      'machine': _report.machine_info(tensorflow=tf.__version__, tff=tff.__version__),
      'quick': args.quick,
  }
  r = report['rounds'] = bench(num_clients=args.num_clients, per_client=args.examples_per_client,
                               repeats=args.repeats, rounds=args.rounds)
  print(f'\nOne FedAvg round: {r["num_clients"]} clients x {r["examples_per_client"]} images, '
        f'1 local epoch, batch {r["batch_size"]}; median of {r["repeats"]} x '
        f'{r["timed_rounds_per_repeat"]} rounds; {os.cpu_count()} CPU cores')
  print(f'{"workers":<24}{"round (s)":>10}{"vs 1":>7}{"MB sent/worker":>16}'
        f'{"MB received/worker":>20}')
  for label, entry in r['configs'].items():
    print(f'{label:<24}{entry["median_round_seconds"]:>10.2f}'
          f'{entry["speedup_vs_1_worker"]:>7.2f}'
          f'{statistics.mean(entry["bytes_sent_per_worker_per_round"]) / 1e6:>16.2f}'
          f'{statistics.mean(entry["bytes_received_per_worker_per_round"]) / 1e6:>20.2f}')
  print(f'model: {r["model_bytes"] / 1e6:.2f} MB of float32 weights; one client\'s records: '
        f'{r["client_record_bytes"] / 1e6:.2f} MB (read by the worker from the client store)')
  _report.write_report(report, args.output)
  return 0


if __name__ == '__main__':
  sys.exit(main())
