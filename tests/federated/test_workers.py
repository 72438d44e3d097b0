"""Several TFF workers: the clients split over them, DP noise added once, a
computation that cannot be split refused, a lost worker reported, remote
addresses checked, and `bin/tff_worker`.

Whole federated runs on several workers are in test_training.py (equality)
and test_run_tff_cli.py (a worker killed mid-run)."""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import portpicker
import pytest
import tensorflow_federated as tff

import helpers
from antigan_tf.federated import runtime as runtime_lib
from antigan_tf.federated import workers as workers_lib

_CLIENT_FLOATS = tff.FederatedType(np.float32, tff.CLIENTS)


@tff.federated_computation(_CLIENT_FLOATS)
def _client_sum(values):
  return tff.federated_sum(values)


@tff.tensorflow.computation(np.float32, np.float32)
def _times(a, b):
  return a * b


@tff.federated_computation(_CLIENT_FLOATS)
def _sum_of_values_times_their_sum(values):
  # The second aggregation reads the first one's result: not one layer.
  total = tff.federated_broadcast(tff.federated_sum(values))
  return tff.federated_sum(tff.federated_map(_times, (values, total)))


@pytest.fixture
def served_workers(repo_root):
  """Two `bin/tff_worker` processes; yields their addresses and processes."""
  ports = [portpicker.pick_unused_port() for _ in range(2)]
  procs = [helpers.start_tff_worker(repo_root, port) for port in ports]
  yield [f'localhost:{port}' for port in ports], procs
  for proc in procs:
    proc.kill()
    proc.wait()
    proc.stderr.close()


def test_clients_of_a_computation_are_split_over_the_workers():
  with runtime_lib.ManagedRuntime(num_workers=2) as runtime:
    assert _client_sum([1.0, 2.0, 3.0, 4.0]) == pytest.approx(10.0)
    workers = runtime.workers
    # TFF's mergeable context gives each worker half of the clients.
    assert [max(w.client_counts) for w in workers] == [2, 2]
    assert all(w.calls > 0 for w in workers)


def test_a_computation_that_cannot_be_split_names_the_alternative():
  with runtime_lib.ManagedRuntime(num_workers=2):
    with pytest.raises(runtime_lib.NotMergeableError, match='--tff_workers=1') as raised:
      _sum_of_values_times_their_sum([1.0, 2.0])
    assert '\n' not in str(raised.value)  # One line: `bin/run_tff` prints the first.
  with runtime_lib.ManagedRuntime(num_workers=1):  # It runs on one worker.
    assert _sum_of_values_times_their_sum([1.0, 2.0]) == pytest.approx(9.0)


@pytest.mark.parametrize('adaptive', [False, True])
def test_dp_noise_is_added_once_not_once_per_worker(adaptive):
  # Zero client updates: the aggregate is the noise alone. Added on each of
  # two workers, its standard deviation would be sqrt(2) times larger.
  size, clients = 20000, 4
  if adaptive:
    factory = tff.aggregators.DifferentiallyPrivateFactory.gaussian_adaptive(
        noise_multiplier=1.0, clients_per_round=float(clients), clipped_count_stddev=1.0)
  else:
    factory = tff.aggregators.DifferentiallyPrivateFactory.gaussian_fixed(
        noise_multiplier=1.0, clients_per_round=float(clients), clip=1.0)
  process = factory.create(tff.TensorType(np.float32, [size]))
  stddev = {}
  for num_workers in (1, 2):
    with runtime_lib.ManagedRuntime(num_workers=num_workers):
      output = process.next(process.initialize(), [np.zeros(size, np.float32)] * clients)
      stddev[num_workers] = float(np.std(output.result))
  # With 20,000 draws the estimate is within 2% of the truth (about 4 sigma).
  assert stddev[2] == pytest.approx(stddev[1], rel=0.04)
  if not adaptive:  # noise_multiplier * clip / clients_per_round.
    assert stddev[2] == pytest.approx(1.0 * 1.0 / clients, rel=0.03)


def test_a_killed_local_worker_is_named_instead_of_retried_forever():
  before = set(helpers.worker_pids())
  with runtime_lib.ManagedRuntime(num_workers=2) as runtime:
    assert _client_sum([1.0, 2.0]) == pytest.approx(3.0)
    victim = runtime.workers[1]
    (worker_pid,) = helpers.descendant_worker_pids(victim.pid) or [victim.pid]
    os.kill(worker_pid, signal.SIGKILL)
    start = time.monotonic()
    with pytest.raises(workers_lib.WorkerLostError) as raised:
      _client_sum([1.0, 2.0])
    assert time.monotonic() - start < 30
  message = str(raised.value)
  assert f'TFF worker 1 ({"isolated, " if victim.isolated else ""}{victim.address}, ' \
         f'pid {victim.pid})' in message
  assert 'exited with code -9' in message
  assert raised.value.address == victim.address
  assert os.path.exists(victim.log_path)  # Named in the message: kept.
  assert set(helpers.worker_pids()) <= before


def test_local_workers_are_isolated_from_the_network_where_the_machine_allows():
  # This machine (and CI) allows user and network namespaces.
  assert workers_lib.network_isolation_error() is None
  with runtime_lib.ManagedRuntime(num_workers=1) as runtime:
    (worker,) = runtime.workers
    assert worker.isolated and worker.address.startswith('unix:')
    assert _client_sum([1.0, 2.0]) == pytest.approx(3.0)
    # The worker listens on its port on every interface of its namespace, yet
    # nothing answers there from this one.
    with pytest.raises(ConnectionRefusedError):
      socket.create_connection(('127.0.0.1', worker.port), timeout=5).close()
    log_dir = os.path.dirname(worker.log_path)
  assert not os.path.exists(log_dir)  # Our own temporary logs go with the workers.
  with runtime_lib.ManagedRuntime(num_workers=1, isolate_local_workers=False) as runtime:
    (worker,) = runtime.workers
    assert not worker.isolated
    socket.create_connection(('127.0.0.1', worker.port), timeout=5).close()  # Exposed.


def test_without_namespaces_local_workers_run_unisolated_with_a_warning(monkeypatch, caplog):
  monkeypatch.setattr(workers_lib, '_UNSHARE_NET', ('no-such-unshare-binary', '--net'))
  workers_lib.network_isolation_error.cache_clear()
  try:
    with pytest.raises(RuntimeError, match='cannot be isolated'):
      runtime_lib.ManagedRuntime(isolate_local_workers=True)
    with caplog.at_level('WARNING'), runtime_lib.ManagedRuntime() as runtime:
      assert not runtime.workers[0].isolated
      assert _client_sum([1.0, 2.0]) == pytest.approx(3.0)
    assert 'listen on every interface' in caplog.text
  finally:
    workers_lib.network_isolation_error.cache_clear()


def test_running_workers_are_used_by_address_and_left_running(served_workers):
  addresses, procs = served_workers
  with runtime_lib.ManagedRuntime(worker_addresses=addresses) as runtime:
    assert runtime.worker_pids == []  # Not ours to stop.
    assert _client_sum([1.0, 2.0, 3.0, 4.0]) == pytest.approx(10.0)
    assert [max(w.client_counts) for w in runtime.workers] == [2, 2]
  assert all(proc.poll() is None for proc in procs)
  assert 'every interface' in procs[0].stderr.readline()  # bin/tff_worker's warning.


def test_an_unreachable_remote_worker_is_named_after_the_timeout(served_workers):
  addresses, procs = served_workers
  with runtime_lib.ManagedRuntime(worker_addresses=addresses, unreachable_timeout=2):
    assert _client_sum([1.0, 2.0]) == pytest.approx(3.0)
    procs[1].kill()
    procs[1].wait()
    with pytest.raises(workers_lib.WorkerLostError,
                       match=r'TFF worker 1 \(localhost:\d+\) has been unreachable') as raised:
      _client_sum([1.0, 2.0])
    assert raised.value.address == addresses[1]
    assert f'bin/tff_worker --port={addresses[1].split(":")[1]}' in str(raised.value)


def test_a_remote_worker_that_is_not_running_fails_start_with_the_command():
  port = portpicker.pick_unused_port()
  runtime = runtime_lib.ManagedRuntime(worker_addresses=[f'localhost:{port}'], startup_timeout=1)
  with pytest.raises(TimeoutError, match=f'bin/tff_worker --port={port}'):
    runtime.start()
  runtime.close()


@pytest.mark.parametrize(
    'addresses, allow, expected',
    [
        ('localhost:8000', False, ['localhost:8000']),
        (['127.0.0.1:1', '[::1]:65535'], False, ['127.0.0.1:1', '[::1]:65535']),
        ('localhost:8000, localhost:8001', False, ['localhost:8000', 'localhost:8001']),
        (['10.0.0.7:8000'], True, ['10.0.0.7:8000']),
    ],
)
def test_worker_addresses_accepted(addresses, allow, expected):
  assert workers_lib.check_worker_addresses(addresses, allow_remote_workers=allow) == expected


@pytest.mark.parametrize(
    'addresses, message',
    [
        (['10.0.0.7:8000'], 'allow_remote_workers'),
        (['10.0.0.7:8000'], r'ssh -N -L 8000:localhost:8000 10\.0\.0\.7'),
        (['localhost'], 'host:port'),
        (['localhost:0'], '1..65535'),
        (['localhost:99999'], '1..65535'),
        ([':8000'], 'host:port'),
        (['localhost:8000', 'localhost:8000'], 'twice'),
        (['no-such-host.invalid:8000'], 'cannot be resolved'),
        ([], 'No TFF worker address'),
    ],
)
def test_worker_addresses_refused(addresses, message):
  with pytest.raises(ValueError, match=message):
    workers_lib.check_worker_addresses(addresses)


def test_local_and_remote_workers_are_exclusive():
  with pytest.raises(ValueError, match='either'):
    runtime_lib.ManagedRuntime(num_workers=2, worker_addresses=['localhost:8000'])
  with pytest.raises(ValueError, match='unreachable_timeout'):
    runtime_lib.ManagedRuntime(unreachable_timeout=0)


@pytest.mark.parametrize('args', [[], ['--port=0'], ['--port=70000'], ['--port=1', 'extra']])
def test_tff_worker_cli_refuses_bad_input(repo_root, args):
  proc = subprocess.run(
      [sys.executable, os.path.join(repo_root, 'bin', 'tff_worker'), *args],
      capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines()[-1].startswith('tff_worker: error:')



def test_tff_worker_cli_refuses_a_port_in_use(repo_root):
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
    taken.bind(('127.0.0.1', 0))
    taken.listen()
    port = taken.getsockname()[1]
    proc = subprocess.run(
        [sys.executable, os.path.join(repo_root, 'bin', 'tff_worker'), f'--port={port}'],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert proc.stderr.strip().splitlines() == [
      f'tff_worker: error: Port {port} is already in use on this host; choose another --port.']
