"""The managed TFF runtime: computations run on our worker, and no worker
outlives the Python process, however it ends."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import helpers

# Each scenario runs in a fresh interpreter, like a user's script.
_PRELUDE = textwrap.dedent("""
    import os, sys, time
    os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'
    import tensorflow as tf
    import tensorflow_federated as tff
    from antigan_tf.federated.runtime import ManagedRuntime

    @tff.tensorflow.computation
    def add_one(x: tf.int32):
      return x + 1

    def report(runtime):
      print('PIDS', ' '.join(map(str, runtime.worker_pids)), flush=True)
""")


def _start(body: str) -> subprocess.Popen:
  return subprocess.Popen(
      [sys.executable, '-c', _PRELUDE + textwrap.dedent(body)],
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
  )


def _read_pids(proc: subprocess.Popen, timeout: float = 120.0) -> list[int]:
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    line = proc.stdout.readline()
    if not line:
      break
    if line.startswith('PIDS'):
      return [int(p) for p in line.split()[1:]]
  proc.kill()
  raise AssertionError(f'no PIDS line; stderr:\n{proc.stderr.read()[-3000:]}')


def _finish(proc: subprocess.Popen, timeout: float = 60.0) -> tuple[int, str, str]:
  # communicate() returning at all proves no child holds our pipes open.
  out, err = proc.communicate(timeout=timeout)
  return proc.returncode, out, err


def test_computation_runs_on_managed_worker_and_worker_stops_on_exit():
  proc = _start("""
      with ManagedRuntime() as runtime:
        report(runtime)
        print('RESULT', add_one(41), flush=True)
  """)
  pids = _read_pids(proc)
  code, out, err = _finish(proc)
  assert code == 0, err[-3000:]
  assert 'RESULT 42' in out
  assert len(pids) == 1
  assert helpers.wait_until_gone(pids[0])


def test_worker_stops_when_an_exception_leaves_the_block():
  proc = _start("""
      with ManagedRuntime() as runtime:
        report(runtime)
        add_one(1)
        raise RuntimeError('boom')
  """)
  pids = _read_pids(proc)
  code, _, err = _finish(proc)
  assert code != 0 and 'boom' in err
  assert helpers.wait_until_gone(pids[0])


def test_worker_stops_at_interpreter_exit_without_close():
  proc = _start("""
      runtime = ManagedRuntime().start()
      report(runtime)
      add_one(1)
      # No close(): the atexit hook must stop the worker.
  """)
  pids = _read_pids(proc)
  code, _, err = _finish(proc)
  assert code == 0, err[-3000:]
  assert helpers.wait_until_gone(pids[0])


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_worker_stops_when_process_is_signalled(signum):
  before = set(helpers.worker_pids())
  proc = _start("""
      with ManagedRuntime() as runtime:
        add_one(1)
        report(runtime)
        time.sleep(300)
  """)
  pids = _read_pids(proc)
  assert helpers.process_alive(pids[0])
  os.kill(proc.pid, signum)
  code, _, err = _finish(proc)
  assert code != 0
  # SIGKILL cannot be caught: the parent-death signal takes the worker down.
  assert helpers.wait_until_gone(pids[0]), f'worker {pids[0]} survived {signum!r}'
  # Isolated, the worker runs under a relay (pids[0]): it must go too.
  assert all(helpers.wait_until_gone(pid) for pid in set(helpers.worker_pids()) - before)


def test_several_workers_start_and_all_stop():
  proc = _start("""
      with ManagedRuntime(num_workers=2) as runtime:
        report(runtime)
  """)
  pids = _read_pids(proc)
  code, _, err = _finish(proc)
  assert code == 0, err[-3000:]
  assert len(set(pids)) == 2
  for pid in pids:
    assert helpers.wait_until_gone(pid)


def test_worker_that_dies_at_start_gives_clear_error(tmp_path):
  fake = tmp_path / 'worker_binary'
  fake.write_text('#!/bin/sh\necho "cannot bind" >&2\nexit 3\n')
  fake.chmod(0o755)
  proc = _start(f"""
      try:
        ManagedRuntime(worker_binary={str(fake)!r}, startup_timeout=30).start()
      except RuntimeError as e:
        print('ERROR', e, flush=True)
  """)
  code, out, err = _finish(proc)
  assert code == 0, err[-3000:]
  assert 'exited with code 3' in out and 'cannot bind' in out


def test_close_restores_previous_context_in_process():
  import tensorflow_federated as tff  # pylint: disable=g-import-not-at-top
  from antigan_tf.federated import runtime as runtime_lib  # pylint: disable=g-import-not-at-top

  before = tff.framework.get_context_stack().current
  runtime = runtime_lib.ManagedRuntime()
  with runtime:
    assert tff.framework.get_context_stack().current is not before
    pid = runtime.worker_pids[0]
  assert tff.framework.get_context_stack().current is before
  assert helpers.wait_until_gone(pid)
  runtime.close()  # Idempotent.


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'num_workers': 0}, 'num_workers'),
        ({'startup_timeout': 0}, 'startup_timeout'),
    ],
)
def test_bad_arguments(kwargs, message):
  from antigan_tf.federated import runtime as runtime_lib  # pylint: disable=g-import-not-at-top

  with pytest.raises(ValueError, match=message):
    runtime_lib.ManagedRuntime(**kwargs)


def test_missing_binary_is_reported(tmp_path):
  from antigan_tf.federated import runtime as runtime_lib  # pylint: disable=g-import-not-at-top

  with pytest.raises(FileNotFoundError, match='worker binary'):
    runtime_lib.ManagedRuntime(worker_binary=str(tmp_path / 'nope'))
