"""A TFF runtime whose C++ workers are owned, and always stopped, by us.

`import tensorflow_federated` installs a default execution context that starts
a `worker_binary` subprocess on the first computation and never stops it: the
orphan outlives Python and keeps the parent's stdout pipe open (a CI job or a
`cmd | tee` then hangs). `ManagedRuntime` instead

* starts each worker itself (`workers.WorkerProcess`: its own process session,
  its output in a log file, a parent-death signal), isolated from the network
  where the machine allows it;
* waits on the gRPC stub until the worker is ready (or fails fast with the
  worker's log);
* installs a TFF execution context that talks to those workers, so TFF never
  starts one of its own;
* stops the workers on `close()`, at interpreter exit, on an exception leaving
  the `with` block, on SIGINT and on SIGTERM, and restores the previous
  context.

Several workers. With `num_workers > 1` local workers, or with the addresses of
workers already running elsewhere (`worker_addresses`, each started with
`bin/tff_worker --port=P`), the runtime installs TFF's mergeable-computation
context over one async context per worker: each computation is compiled to
`MergeableCompForm` and the clients of a round are split over the workers,
whose partial aggregates are merged (TFF's code, not ours). A computation with
an aggregation that depends on another cannot be split; it raises
`NotMergeableError` instead of running on one worker.

A worker lost mid-run raises `workers.WorkerLostError` instead of TFF retrying
it forever; `workers.py` also says how local workers are isolated and why
remote addresses that are not loopback are refused.
"""

import atexit
import contextlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Sequence
from typing import Optional, Union

from absl import logging
import portpicker
import tensorflow_federated as tff

from antigan_tf.federated import workers as workers_lib
from antigan_tf.utils import checks
from antigan_tf.utils.tff_worker import default_worker_binary

_HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class NotMergeableError(ValueError):
  """A computation cannot be split over several TFF workers."""


def _compile_for_workers(num_workers: int):
  """TFF's mergeable-form compiler, with an error that names the way out.

  Args:
    num_workers: the workers the computation would be split over.

  Returns:
    A `compiler_fn` for `tff.framework.MergeableCompExecutionContext`; it
    raises `NotMergeableError` for a computation that cannot be split.
  """

  def compile_fn(comp):
    try:
      return tff.backends.native.compile_to_mergeable_comp_form(comp)
    except ValueError as e:
      raise NotMergeableError(
          f'This TFF computation cannot be split over {num_workers} TFF workers: TFF\'s '
          'mergeable form allows one layer of aggregation, and here an aggregation '
          f'depends on another ({str(e).split(" Examples are:")[0]}). Run it on one '
          'worker: --tff_workers=1 without --tff_worker_addresses (tff_workers=1 in '
          'run_federated, num_workers=1 in ManagedRuntime).') from e

  return compile_fn


def _plan_workers(
    num_workers: Optional[int],
    worker_addresses: Optional[Union[str, Sequence[str]]],
    allow_remote_workers: bool,
) -> tuple[Optional[list[str]], int]:
  """Checks `ManagedRuntime`'s choice between local and running workers.

  Args:
    num_workers: see `ManagedRuntime`.
    worker_addresses: see `ManagedRuntime`.
    allow_remote_workers: see `ManagedRuntime`.

  Returns:
    The checked addresses (None for local workers) and the number of workers.

  Raises:
    ValueError: both given, a bad or refused address, or `num_workers` < 1.
  """
  if worker_addresses is not None:
    if num_workers is not None:
      raise ValueError(
          'Pass either `num_workers` (local workers) or `worker_addresses` (running '
          'workers), not both.')
    addresses = workers_lib.check_worker_addresses(
        worker_addresses, allow_remote_workers=allow_remote_workers)
    return addresses, len(addresses)
  num_workers = 1 if num_workers is None else num_workers
  return None, checks.check_int(num_workers, 'num_workers', 1)


class ManagedRuntime:
  """Starts (or connects to) TFF workers, installs a context, stops them.

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
      num_workers: Optional[int] = None,
      worker_addresses: Optional[Union[str, Sequence[str]]] = None,
      allow_remote_workers: bool = False,
      isolate_local_workers: Optional[bool] = None,
      unreachable_timeout: float = 60.0,
      default_num_clients: int = 0,
      max_concurrent_computation_calls: int = -1,
      startup_timeout: float = 120.0,
      worker_binary: Optional[str] = None,
      log_dir: Optional[str] = None,
  ):
    """Configures the runtime; nothing starts before `start()`.

    Args:
      num_workers: local worker processes to start (>= 1); default 1 unless
        `worker_addresses` is given.
      worker_addresses: 'host:port' of workers already running (started with
        `bin/tff_worker --port=P`) to use instead of local ones; a list or a
        comma-separated string. The runtime never stops them.
      allow_remote_workers: accept `worker_addresses` that are not loopback.
      isolate_local_workers: run each local worker in a private network
        namespace, reached through a Unix socket, so that no other host can
        reach it (the worker itself listens on every interface). None (the
        default): when the machine allows it (`unshare`, user namespaces),
        otherwise warn and run them unisolated. True: require it.
      unreachable_timeout: seconds a remote worker may stay unreachable before
        the run fails with `WorkerLostError` (TFF retries meanwhile).
      default_num_clients: CLIENTS cardinality used when TFF cannot infer it
        from the arguments (as TFF's own local factory does).
      max_concurrent_computation_calls: per-worker cap on parallel calls of a
        computation; non-positive means no cap (local workers).
      startup_timeout: seconds to wait for each worker to accept calls.
      worker_binary: path of `worker_binary`; default the one in the TFF wheel.
      log_dir: where local worker logs go; default a fresh temporary directory.

    Raises:
      ValueError: `num_workers` < 1, both `num_workers` and
        `worker_addresses`, a bad or refused address
        (`workers.check_worker_addresses`), or a non-positive timeout.
      FileNotFoundError: the worker binary does not exist (local workers).
      RuntimeError: `isolate_local_workers=True` where the machine does not
        allow it.
    """
    self._addresses, self._num_workers = _plan_workers(
        num_workers, worker_addresses, allow_remote_workers)
    for name, timeout in (('startup_timeout', startup_timeout),
                          ('unreachable_timeout', unreachable_timeout)):
      if not timeout > 0:
        raise ValueError(f'`{name}` must be > 0, got {timeout!r}.')
    self._binary = worker_binary or default_worker_binary()
    self._isolate = isolate_local_workers
    if self._addresses is None:
      self._check_local_workers_can_start()
    self._socket_dir = None
    self._own_log_dir = None
    self._unreachable_timeout = unreachable_timeout
    self._default_num_clients = default_num_clients
    self._max_calls = max_concurrent_computation_calls
    self._startup_timeout = startup_timeout
    self._log_dir = log_dir
    self._workers: list[workers_lib.Worker] = []
    self._previous_context = None
    self._previous_handlers = {}
    self._lock = threading.Lock()
    self._started = False

  def _check_local_workers_can_start(self) -> None:
    """Fails now, not at `start()`, on what no retry would fix.

    Raises:
      FileNotFoundError: the worker binary does not exist.
      RuntimeError: isolation is required and the machine does not allow it.
    """
    if not os.path.isfile(self._binary):
      raise FileNotFoundError(
          f'TFF worker binary not found at {self._binary}; is '
          'tensorflow-federated 0.87 installed (see docs/install.md)?'
      )
    if self._isolate:
      reason = workers_lib.network_isolation_error()
      if reason is not None:
        raise RuntimeError(
            f'Local TFF workers cannot be isolated from the network here: {reason}. Pass '
            'isolate_local_workers=None (or False) to run them on all interfaces.')

  @property
  def worker_addresses(self) -> Optional[list[str]]:
    """The checked `worker_addresses` ('host:port'); None for local workers."""
    return None if self._addresses is None else list(self._addresses)

  @property
  def workers(self) -> list[workers_lib.Worker]:
    """The workers in use (empty before `start()` and after `close()`)."""
    return list(self._workers)

  @property
  def worker_pids(self) -> list[int]:
    """PIDs of the local workers (remote ones have none here)."""
    return [w.pid for w in self._workers if isinstance(w, workers_lib.WorkerProcess)]

  def _start_workers(self) -> None:
    """Starts or connects to every worker, then waits until all are ready."""
    if self._addresses is not None:
      self._connect_remote_workers()
    else:
      self._start_local_workers()
    for worker in self._workers:
      worker.wait_ready(self._startup_timeout)

  def _connect_remote_workers(self) -> None:
    for i, address in enumerate(self._addresses):
      self._workers.append(workers_lib.RemoteWorker(
          address=address, index=i, unreachable_timeout=self._unreachable_timeout))

  def _start_local_workers(self) -> None:
    log_dir = self._make_log_dir()
    isolate = self._should_isolate()
    if isolate:
      # Short path: a Unix socket path is limited to 107 bytes.
      self._socket_dir = tempfile.mkdtemp(prefix='antigan_tf-')
    for i in range(self._num_workers):
      port = portpicker.pick_unused_port()
      worker = workers_lib.WorkerProcess(
          binary=self._binary,
          port=port,
          log_path=os.path.join(log_dir, f'worker-{i}-port{port}.log'),
          max_concurrent_computation_calls=self._max_calls,
          index=i,
          socket_path=os.path.join(self._socket_dir, f'w{i}.sock') if isolate else None,
      )
      self._workers.append(worker)
      logging.info('Started %s.', worker.describe())

  def _make_log_dir(self) -> str:
    """The directory of the local workers' logs: `log_dir`, or one of our own."""
    if self._log_dir is None:
      self._own_log_dir = tempfile.mkdtemp(prefix='antigan_tf-tff-workers-')
      return self._own_log_dir
    os.makedirs(self._log_dir, exist_ok=True)
    return self._log_dir

  def _should_isolate(self) -> bool:
    """Whether local workers get a private network namespace.

    Returns:
      `isolate_local_workers` if given; by default whether the machine allows
      it, with a warning when it does not.
    """
    if self._isolate is not None:
      return bool(self._isolate)
    reason = workers_lib.network_isolation_error()
    if reason is not None:
      logging.warning(
          'Local TFF workers run unisolated: they listen on every interface of this '
          'host, unauthenticated, while the run lasts (%s). Keep their ports closed to '
          'other hosts (firewall).', reason)
    return reason is None

  def _executor_factory(self, worker: workers_lib.Worker):
    """A TFF executor factory whose executors run on `worker`."""
    default_num_clients = self._default_num_clients

    def stack_fn(cardinalities):
      if cardinalities.get(tff.CLIENTS) is None:
        cardinalities[tff.CLIENTS] = default_num_clients
      worker.client_counts.append(cardinalities[tff.CLIENTS])
      executor = tff.framework.RemoteExecutor(worker.stub)
      executor.set_cardinalities(cardinalities)
      return executor

    return tff.framework.ResourceManagingExecutorFactory(stack_fn)

  def _build_context(self):
    """One worker: a sync context; several: TFF's mergeable context over them."""
    common = dict(
        compiler_fn=tff.backends.native.desugar_and_transform_to_native,
        transform_args=tff.tensorflow.transform_args,
        transform_result=tff.tensorflow.transform_result,
    )
    if len(self._workers) == 1:
      return tff.framework.SyncExecutionContext(
          self._executor_factory(self._workers[0]), **common
      )
    async_contexts = [
        tff.framework.AsyncExecutionContext(self._executor_factory(w), **common)
        for w in self._workers
    ]
    # What `tff.backends.native.create_mergeable_comp_execution_context` builds,
    # with a compiler error that names the alternative, and results converted
    # to numpy as with one worker.
    return tff.framework.MergeableCompExecutionContext(
        async_contexts,
        compiler_fn=_compile_for_workers(len(self._workers)),
        transform_result=tff.tensorflow.transform_result,
    )

  def _install_context(self, context) -> None:
    """Makes `context` TFF's default, remembering the one it replaces."""
    self._previous_context = tff.framework.get_context_stack().current
    tff.framework.set_default_context(context)

  def _restore_context(self) -> None:
    if self._previous_context is not None:
      with contextlib.suppress(Exception):
        tff.framework.set_default_context(self._previous_context)
    self._previous_context = None

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
      RuntimeError / TimeoutError: a local worker died or a worker never
        became ready (a remote one: the message says how to start it); any
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
        self._stop_workers(keep_logs=True)  # The error names a log.
        atexit.unregister(self.close)
        raise
      self._install_context(context)
      self._install_signal_handlers()
      self._started = True
      return self

  def _stop_workers(self, keep_logs: bool = False) -> None:
    """Stops (or disconnects from) every worker and removes our directories.

    Args:
      keep_logs: keep the logs in our own temporary directory.
    """
    for worker in self._workers:
      logging.info('Closing %s: %d calls, %.1f MB sent, %.1f MB received.',
                   worker.describe(), worker.calls, worker.bytes_sent / 1e6,
                   worker.bytes_received / 1e6)
      worker.stop()
    # Logs in a directory of our own go with the workers, unless an error may
    # point at them (a lost worker names its log).
    keep_logs = keep_logs or any(worker.lost for worker in self._workers)
    self._workers = []
    if self._own_log_dir is not None and not keep_logs:
      shutil.rmtree(self._own_log_dir, ignore_errors=True)
    self._own_log_dir = None
    if self._socket_dir is not None:
      shutil.rmtree(self._socket_dir, ignore_errors=True)
      self._socket_dir = None

  def close(self, *, keep_logs: bool = False) -> None:
    """Stops every worker and restores the previous TFF context. Idempotent.

    Args:
      keep_logs: keep the local workers' logs even in the runtime's own
        temporary directory (kept anyway when a worker was lost).
    """
    # Not under self._lock: close() may run from a signal handler while the
    # main thread holds it inside start().
    if not self._started and not self._workers:
      return
    self._stop_workers(keep_logs=keep_logs)
    if self._started:
      self._started = False
      self._restore_signal_handlers()
      self._restore_context()
      with contextlib.suppress(Exception):
        atexit.unregister(self.close)

  def __enter__(self) -> 'ManagedRuntime':
    return self.start()

  def __exit__(self, exc_type, exc, tb) -> None:
    self.close(keep_logs=exc_type is not None)


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
