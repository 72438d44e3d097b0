"""A TFF runtime whose C++ workers are owned, and always stopped, by us.

`import tensorflow_federated` installs a default execution context that starts
a `worker_binary` subprocess on the first computation and never stops it: the
orphan outlives Python and keeps the parent's stdout pipe open (a CI job or a
`cmd | tee` then hangs). `ManagedRuntime` instead

* starts each worker itself, in its own process session, with its output in a
  log file (never our stdout), and with a parent-death signal so even a
  SIGKILL of Python takes the worker down;
* waits on the gRPC stub until the worker is ready (or fails fast with the
  worker's log);
* installs a TFF execution context that talks to those workers, so TFF never
  starts one of its own;
* stops the workers on `close()`, at interpreter exit, on an exception leaving
  the `with` block, on SIGINT and on SIGTERM, and restores the previous
  context.

The worker binary has no flag to choose an interface; it listens on the port
given, and we connect through localhost.

Several workers (`num_workers > 1`) are started the same way; the runtime then
installs TFF's mergeable-computation context over one async context per
worker, which splits the clients of a round between them.
"""

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from typing import Optional

import grpc
import portpicker
import tensorflow_federated as tff

_LOG = logging.getLogger(__name__)

_GRPC_MAX_MESSAGE_BYTES = 2 * 1000 * 1000 * 1000
_GRPC_OPTIONS = [
    ('grpc.max_message_length', _GRPC_MAX_MESSAGE_BYTES),
    ('grpc.max_receive_message_length', _GRPC_MAX_MESSAGE_BYTES),
    ('grpc.max_send_message_length', _GRPC_MAX_MESSAGE_BYTES),
]
_PR_SET_PDEATHSIG = 1
_HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def default_worker_binary() -> str:
  """Path of the `worker_binary` shipped inside the TFF wheel."""
  return os.path.join(os.path.dirname(tff.__file__), 'data', 'worker_binary')


def _load_prctl():
  try:
    return ctypes.CDLL(None, use_errno=True).prctl
  except (OSError, AttributeError):  # Not Linux: atexit and handlers still apply.
    return None


# Resolved here, not in the child: after fork only async-signal-safe work is
# allowed, and ctypes loading is not.
_PRCTL = _load_prctl()


def _die_with_parent():
  """preexec_fn: SIGKILL the worker when the thread that started it dies."""
  if _PRCTL is not None:
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


class WorkerProcess:
  """One `worker_binary` subprocess and a gRPC stub connected to it."""

  def __init__(self, *, binary: str, port: int, log_path: str,
               max_concurrent_computation_calls: int):
    self.port = port
    self.log_path = log_path
    self._log = open(log_path, 'wb')  # pylint: disable=consider-using-with
    args = [
        binary,
        f'--port={port}',
        f'--max_concurrent_computation_calls={max_concurrent_computation_calls}',
    ]
    # PDEATHSIG fires when the *thread* that forked exits; runtimes are meant to
    # be started from the main thread (documented on ManagedRuntime).
    self.process = subprocess.Popen(  # pylint: disable=consider-using-with
        args,
        stdin=subprocess.DEVNULL,
        stdout=self._log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C in a terminal goes to us, not it.
        preexec_fn=_die_with_parent,
        close_fds=True,
    )
    self.channel = grpc.insecure_channel(f'localhost:{port}', _GRPC_OPTIONS)
    self.stub = tff.framework.RemoteExecutorGrpcStub(self.channel)

  @property
  def pid(self) -> int:
    return self.process.pid

  def log_tail(self, max_bytes: int = 2000) -> str:
    try:
      with open(self.log_path, 'rb') as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - max_bytes))
        return f.read().decode(errors='replace')
    except OSError:
      return ''

  def wait_ready(self, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
      if self.process.poll() is not None:
        raise RuntimeError(
            f'TFF worker on port {self.port} exited with code '
            f'{self.process.returncode} before it was ready. Its log '
            f'({self.log_path}) ends with:\n{self.log_tail()}'
        )
      if self.stub.is_ready:
        return
      if time.monotonic() > deadline:
        raise TimeoutError(
            f'TFF worker on port {self.port} was not ready after {timeout:.0f} s. '
            f'Its log ({self.log_path}) ends with:\n{self.log_tail()}'
        )
      time.sleep(0.05)

  def stop(self, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; always reaps the process."""
    with contextlib.suppress(Exception):
      self.channel.close()
    if self.process.poll() is None:
      with contextlib.suppress(ProcessLookupError):
        self.process.terminate()
      try:
        self.process.wait(timeout)
      except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
          self.process.kill()
        self.process.wait()
    with contextlib.suppress(Exception):
      self._log.close()


class ManagedRuntime:
  """Starts TFF C++ workers, installs a context using them, and stops them.

  Use as a context manager (or call `start()` / `close()`):

  ```python
  with ManagedRuntime():
    state = process.initialize()   # runs on our worker, not a TFF orphan
  ```

  Start it from the main thread: the parent-death signal and the SIGTERM
  handler are tied to it.
  """

  def __init__(
      self,
      *,
      num_workers: int = 1,
      default_num_clients: int = 0,
      max_concurrent_computation_calls: int = -1,
      startup_timeout: float = 120.0,
      worker_binary: Optional[str] = None,
      log_dir: Optional[str] = None,
  ):
    """Configures the runtime; nothing starts before `start()`.

    Args:
      num_workers: local worker processes to start (>= 1).
      default_num_clients: CLIENTS cardinality used when TFF cannot infer it
        from the arguments (as TFF's own local factory does).
      max_concurrent_computation_calls: per-worker cap on parallel calls of a
        computation; non-positive means no cap.
      startup_timeout: seconds to wait for each worker to accept calls.
      worker_binary: path of `worker_binary`; default the one in the TFF wheel.
      log_dir: where worker logs go; default a fresh temporary directory.

    Raises:
      ValueError: `num_workers` < 1 or `startup_timeout` <= 0.
      FileNotFoundError: the worker binary does not exist.
    """
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
      raise ValueError(f'`num_workers` must be a positive integer, got {num_workers!r}.')
    if not startup_timeout > 0:
      raise ValueError(f'`startup_timeout` must be > 0, got {startup_timeout!r}.')
    self._binary = worker_binary or default_worker_binary()
    if not os.path.isfile(self._binary):
      raise FileNotFoundError(
          f'TFF worker binary not found at {self._binary}; is '
          'tensorflow-federated 0.87 installed (see README, Install)?'
      )
    self._num_workers = num_workers
    self._default_num_clients = default_num_clients
    self._max_calls = max_concurrent_computation_calls
    self._startup_timeout = startup_timeout
    self._log_dir = log_dir
    self._workers: list[WorkerProcess] = []
    self._previous_context = None
    self._previous_handlers = {}
    self._lock = threading.Lock()
    self._started = False

  @property
  def workers(self) -> list[WorkerProcess]:
    return list(self._workers)

  @property
  def worker_pids(self) -> list[int]:
    return [w.pid for w in self._workers]

  def _start_workers(self) -> None:
    log_dir = self._log_dir or tempfile.mkdtemp(prefix='antigan_tf-tff-workers-')
    os.makedirs(log_dir, exist_ok=True)
    for i in range(self._num_workers):
      port = portpicker.pick_unused_port()
      worker = WorkerProcess(
          binary=self._binary,
          port=port,
          log_path=os.path.join(log_dir, f'worker-{i}-port{port}.log'),
          max_concurrent_computation_calls=self._max_calls,
      )
      self._workers.append(worker)
      _LOG.info('Started TFF worker %d (pid %d, port %d).', i, worker.pid, port)
    for worker in self._workers:
      worker.wait_ready(self._startup_timeout)

  def _executor_factory(self, stub):
    default_num_clients = self._default_num_clients

    def stack_fn(cardinalities):
      if cardinalities.get(tff.CLIENTS) is None:
        cardinalities[tff.CLIENTS] = default_num_clients
      executor = tff.framework.RemoteExecutor(stub)
      executor.set_cardinalities(cardinalities)
      return executor

    return tff.framework.ResourceManagingExecutorFactory(stack_fn)

  def _build_context(self):
    common = dict(
        compiler_fn=tff.backends.native.desugar_and_transform_to_native,
        transform_args=tff.tensorflow.transform_args,
        transform_result=tff.tensorflow.transform_result,
    )
    if len(self._workers) == 1:
      return tff.framework.SyncExecutionContext(
          self._executor_factory(self._workers[0].stub), **common
      )
    async_contexts = [
        tff.framework.AsyncExecutionContext(self._executor_factory(w.stub), **common)
        for w in self._workers
    ]
    return tff.backends.native.create_mergeable_comp_execution_context(async_contexts)

  def _install_signal_handlers(self) -> None:
    if threading.current_thread() is not threading.main_thread():
      return  # signal.signal only works there; atexit + PDEATHSIG still apply.
    for signum in _HANDLED_SIGNALS:
      self._previous_handlers[signum] = signal.getsignal(signum)
      signal.signal(signum, self._on_signal)

  def _restore_signal_handlers(self) -> None:
    if threading.current_thread() is not threading.main_thread():
      return
    for signum, handler in self._previous_handlers.items():
      with contextlib.suppress(Exception):
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    self._previous_handlers = {}

  def _on_signal(self, signum, frame):
    previous = self._previous_handlers.get(signum)
    self.close()
    if callable(previous):
      previous(signum, frame)
    elif previous == signal.SIG_IGN:
      return
    else:
      # Default action: exit like the signal would, but through SystemExit so
      # `finally` blocks and other atexit hooks run.
      raise SystemExit(128 + signum)

  def start(self) -> 'ManagedRuntime':
    """Starts the workers and installs the context. Idempotent.

    Returns:
      self.

    Raises:
      RuntimeError / TimeoutError: a worker died or never became ready; any
        worker already started is stopped before raising.
    """
    with self._lock:
      if self._started:
        return self
      atexit.register(self.close)
      try:
        self._start_workers()
        context = self._build_context()
      except BaseException:
        self._stop_workers()
        atexit.unregister(self.close)
        raise
      stack = tff.framework.get_context_stack()
      self._previous_context = stack.current
      tff.framework.set_default_context(context)
      self._install_signal_handlers()
      self._started = True
      return self

  def _stop_workers(self) -> None:
    for worker in self._workers:
      worker.stop()
    self._workers = []

  def close(self) -> None:
    """Stops every worker and restores the previous TFF context. Idempotent."""
    # Not under self._lock: close() may run from a signal handler while the
    # main thread holds it inside start().
    if not self._started and not self._workers:
      return
    self._stop_workers()
    if self._started:
      self._started = False
      self._restore_signal_handlers()
      if self._previous_context is not None:
        with contextlib.suppress(Exception):
          tff.framework.set_default_context(self._previous_context)
      self._previous_context = None
      with contextlib.suppress(Exception):
        atexit.unregister(self.close)

  def __enter__(self) -> 'ManagedRuntime':
    return self.start()

  def __exit__(self, exc_type, exc, tb) -> None:
    self.close()


class _ShutDownContext(tff.framework.SyncContext):
  """Default context after interpreter exit has begun: refuses to run."""

  def invoke(self, comp, arg):
    raise RuntimeError('The TFF runtime is shutting down; no computation can run.')


def _drop_tff_default_context():
  # TFF's default context owns a ServiceManager whose __del__ uses the
  # subprocess module; collected at interpreter teardown (module globals
  # already None) it prints "Exception ignored ... 'NoneType' object has no
  # attribute 'Popen'". Dropping it at exit, while modules are alive, avoids
  # that noise in every run's stderr.
  with contextlib.suppress(Exception):
    tff.framework.set_default_context(_ShutDownContext())


atexit.register(_drop_tff_default_context)


@contextlib.contextmanager
def managed_runtime(**kwargs):
  """`with managed_runtime(num_workers=1): ...` -- see `ManagedRuntime`."""
  runtime = ManagedRuntime(**kwargs)
  with runtime:
    yield runtime
