"""Process helpers for the tests (no pytest fixtures here)."""

import os
import time


def process_alive(pid: int) -> bool:
  """True while `pid` exists and is not a zombie."""
  try:
    with open(f'/proc/{pid}/stat') as f:
      state = f.read().rsplit(')', 1)[1].split()[0]
  except (FileNotFoundError, ProcessLookupError, IndexError):
    return False
  return state not in ('Z', 'X')


def wait_until_gone(pid: int, timeout: float = 20.0) -> bool:
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if not process_alive(pid):
      return True
    time.sleep(0.1)
  return not process_alive(pid)


# conftest.py sets this in each test process (one per pytest-xdist worker); the
# TFF workers its tests start, directly or in subprocesses, inherit it.
TEST_PROCESS_VAR = 'ANTIGAN_TF_TEST_PROCESS'


def _started_by_this_test_process(pid: str) -> bool:
  try:
    with open(f'/proc/{pid}/environ', 'rb') as f:
      environ = f.read().split(b'\0')
  except OSError:
    return False
  return f'{TEST_PROCESS_VAR}={os.environ[TEST_PROCESS_VAR]}'.encode() in environ


def _pids_of_this_test_process(is_wanted) -> list[int]:
  """PIDs of live processes whose argv (a list of bytes) `is_wanted`, started
  by this test process's tests, even those left orphaned."""
  pids = []
  for entry in os.listdir('/proc'):
    if not entry.isdigit():
      continue
    try:
      with open(f'/proc/{entry}/cmdline', 'rb') as f:
        argv = f.read().split(b'\0')
    except OSError:
      continue
    if is_wanted(argv) and process_alive(int(entry)) and _started_by_this_test_process(entry):
      pids.append(int(entry))
  return pids


def worker_pids() -> list[int]:
  """PIDs of live TFF worker_binary processes started by this test process's
  tests (not by tests running beside it in another pytest-xdist worker), even
  those left orphaned."""
  return _pids_of_this_test_process(lambda argv: b'worker_binary' in argv[0])


def kernel_pids() -> list[int]:
  """PIDs of live IPython kernels started by this test process's tests."""
  return _pids_of_this_test_process(lambda argv: b'ipykernel_launcher' in argv)


def wait_until_no_new_kernels(before, timeout: float = 30.0) -> bool:
  """Waits until every IPython kernel of this test process not in `before` is gone."""
  deadline = time.monotonic() + timeout
  while set(kernel_pids()) - set(before):
    if time.monotonic() > deadline:
      return False
    time.sleep(0.2)
  return True


def descendant_worker_pids(root: int) -> list[int]:
  """PIDs of live TFF worker_binary processes started, directly or not, by `root`
  (an isolated worker runs under a relay process)."""
  parents = {}
  for entry in os.listdir('/proc'):
    if entry.isdigit():
      try:
        with open(f'/proc/{entry}/stat') as f:
          parents[int(entry)] = int(f.read().rsplit(')', 1)[1].split()[1])
      except (OSError, IndexError, ValueError):
        continue
  found = []
  for pid in worker_pids():
    ancestor = parents.get(pid)
    while ancestor and ancestor != root:
      ancestor = parents.get(ancestor)
    if ancestor == root:
      found.append(pid)
  return sorted(found)


def start_tff_worker(repo_root: str, port: int):
  """`bin/tff_worker --port=port` as a user starts it on a worker host: a
  `subprocess.Popen` with stderr piped (its warning), for the caller to kill."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top

  return subprocess.Popen(
      [sys.executable, os.path.join(repo_root, 'bin', 'tff_worker'), f'--port={port}'],
      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def run_with_cli_module(script: str, body: str, *, cwd: str, timeout: float = 600):
  """Runs `body` in a fresh Python with the CLI `script` loaded as module `m`
  (its flags defined, `main` not run); returns the JSON `body` prints last.

  For checks over many flag sets that would each cost a process start-up
  (TensorFlow, TFF) as separate CLI calls.
  """
  import json  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top

  name = os.path.basename(script)
  code = ('import importlib.machinery\n'
          f'm = importlib.machinery.SourceFileLoader({name!r}, {script!r}).load_module()\n'
          + body)
  proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                        timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])
