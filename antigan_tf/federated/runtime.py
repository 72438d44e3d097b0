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

Several workers. With `num_workers > 1` local workers, or with the addresses of
workers already running elsewhere (`worker_addresses`, each started with
`bin/tff_worker --port=P`), the runtime installs TFF's mergeable-computation
context over one async context per worker: each computation is compiled to
`MergeableCompForm` and the clients of a round are split over the workers,
whose partial aggregates are merged (TFF's code, not ours). A computation with
an aggregation that depends on another cannot be split; it raises
`NotMergeableError` instead of running on one worker.

A lost worker. TFF retries a call to an unreachable worker forever (the async
context's retry has no limit), so a dead worker would hang the run. Every call
goes through a stub that, when a call fails, asks the worker's owner: a local
worker whose process has exited, or a remote one unreachable for longer than
`unreachable_timeout`, raises `WorkerLostError` naming it.

Security. `worker_binary` has no flag to choose an interface: it listens on
all of the host's interfaces, speaks plaintext gRPC and runs whatever
computation it is sent, as its user. Local workers therefore run, where the
machine allows it, in a private network namespace (`unshare --net`) reached
through a Unix socket: no other host can reach them. Where it does not, they
run unisolated and the runtime warns. Remote addresses that are not loopback
are refused unless `allow_remote_workers=True` (use a private network or an
SSH tunnel; see the README).
"""

import atexit
import contextlib
import functools
import ipaddress
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import Optional, Union

import grpc
import portpicker
import tensorflow_federated as tff

from antigan_tf.federated import isolated_worker
from antigan_tf.utils.tff_worker import default_worker_binary
from antigan_tf.utils.tff_worker import worker_command

_LOG = logging.getLogger(__name__)

_GRPC_MAX_MESSAGE_BYTES = 2 * 1000 * 1000 * 1000
_GRPC_OPTIONS = [
    ('grpc.max_message_length', _GRPC_MAX_MESSAGE_BYTES),
    ('grpc.max_receive_message_length', _GRPC_MAX_MESSAGE_BYTES),
    ('grpc.max_send_message_length', _GRPC_MAX_MESSAGE_BYTES),
    # Reconnect quickly: a worker that is starting is reachable within ms.
    ('grpc.initial_reconnect_backoff_ms', 100),
    ('grpc.min_reconnect_backoff_ms', 100),
    ('grpc.max_reconnect_backoff_ms', 2000),
]
_HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
# The command that starts a worker for `worker_addresses` (README, Several hosts).
WORKER_COMMAND = 'bin/tff_worker --port={port}'


class WorkerLostError(RuntimeError):
  """A TFF worker died or became unreachable while the runtime used it."""

  def __init__(self, message: str, *, address: str):
    super().__init__(message)
    self.address = address


class NotMergeableError(ValueError):
  """A computation cannot be split over several TFF workers."""


def parse_worker_address(address: str) -> tuple[str, int]:
  """Splits 'host:port' (or '[v6]:port') into (host, port).

  Raises:
    ValueError: not of that form, or the port is not in 1..65535.
  """
  text = str(address).strip()
  host, sep, port = text.rpartition(':')
  if host.startswith('[') and host.endswith(']'):
    host = host[1:-1]
  if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
    raise ValueError(
        f'TFF worker address {address!r} must be host:port with a port in 1..65535 '
        '(e.g. localhost:8000 or [::1]:8000).')
  return host, int(port)


def is_loopback(host: str) -> bool:
  """True if every address `host` resolves to is a loopback address.

  Raises:
    ValueError: `host` cannot be resolved.
  """
  try:
    return ipaddress.ip_address(host).is_loopback
  except ValueError:
    pass
  try:
    infos = socket.getaddrinfo(host, None)
  except socket.gaierror as e:
    raise ValueError(f'TFF worker host {host!r} cannot be resolved: {e}.') from e
  return all(ipaddress.ip_address(info[4][0].split('%')[0]).is_loopback for info in infos)


def check_worker_addresses(addresses: Sequence[str], *,
                           allow_remote_workers: bool = False) -> list[str]:
  """Validates worker addresses; refuses non-loopback ones unless allowed.

  A worker runs any computation sent to its port, unauthenticated and
  unencrypted, so reaching one across a network is opt-in.

  Args:
    addresses: 'host:port' strings.
    allow_remote_workers: accept hosts that are not loopback.

  Returns:
    The addresses as 'host:port' ('[v6]:port' for IPv6 literals), in order.

  Raises:
    ValueError: empty, malformed, duplicated, unresolvable, or a non-loopback
      host without `allow_remote_workers`.
  """
  if isinstance(addresses, str):
    addresses = [a for a in addresses.split(',') if a.strip()]
  if not addresses:
    raise ValueError('No TFF worker address given.')
  normalised = []
  for address in addresses:
    host, port = parse_worker_address(address)
    if not allow_remote_workers and not is_loopback(host):
      raise ValueError(
          f'Refusing TFF worker address {address!r}: {host} is not a loopback address, and '
          'a TFF worker accepts any computation over plaintext, unauthenticated gRPC. Reach '
          f'it through an SSH tunnel (ssh -N -L {port}:localhost:{port} {host}, then use '
          f'localhost:{port}), or pass --allow_remote_workers (allow_remote_workers=True) '
          'if the network between the hosts is private.')
    normalised.append(f'[{host}]:{port}' if ':' in host else f'{host}:{port}')
  duplicated = sorted({a for a in normalised if normalised.count(a) > 1})
  if duplicated:
    raise ValueError(f'TFF worker address(es) given twice: {duplicated}.')
  return normalised


# `unshare` of util-linux: a new network namespace (only a loopback device)
# inside a new user namespace, so no privilege is needed where the kernel
# allows unprivileged user namespaces.
_UNSHARE_NET = ('unshare', '--net', '--map-root-user')
_ISOLATED_WORKER = os.path.abspath(isolated_worker.__file__)


@functools.lru_cache(maxsize=None)
def network_isolation_error() -> Optional[str]:
  """None if local workers can run in a private network namespace; else why not."""
  try:
    # What an isolated worker needs: the namespaces, and its loopback up.
    probe = subprocess.run([*_UNSHARE_NET, sys.executable, _ISOLATED_WORKER, '--check'],
                           capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL, check=False)
  except (OSError, subprocess.TimeoutExpired) as e:
    return f'`unshare` cannot run ({e})'
  if probe.returncode != 0:
    detail = probe.stderr.strip().splitlines()[-1:] or [f'exit code {probe.returncode}']
    return f'`{" ".join(_UNSHARE_NET)}` failed: {detail[0]}'
  return None


class _Worker:
  """A worker the runtime talks to: its address, channel and gRPC stub."""

  def __init__(self, *, index: int, address: str):
    self.index = index
    self.address = address
    self.channel = grpc.insecure_channel(address, _GRPC_OPTIONS)
    self.stub = _MonitoredStub(tff.framework.RemoteExecutorGrpcStub(self.channel), self)
    # What the worker did, for logs and checks: successful calls, and the
    # CLIENTS cardinality of each executor it was asked for (its share of a
    # round's clients; 0 for server-only steps).
    self.calls = 0
    self.bytes_sent = 0
    self.bytes_received = 0
    self.client_counts: list[int] = []
    self.lost = False

  def describe(self) -> str:
    return f'TFF worker {self.index} ({self.address})'

  def lost_reason(self, error: Exception) -> Optional[str]:
    """Why the worker is gone, after a call failed with `error`; None if not."""
    raise NotImplementedError

  def call_succeeded(self) -> None:
    self.calls += 1

  def wait_ready(self, timeout: float) -> None:
    """Waits until the worker accepts calls.

    Raises:
      RuntimeError: a local worker exited first (`_raise_if_exited`).
      TimeoutError: not ready within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while not self.stub.is_ready:
      self._raise_if_exited()
      if time.monotonic() > deadline:
        raise TimeoutError(self._not_ready_message(timeout))
      time.sleep(0.05)

  def _raise_if_exited(self) -> None:
    pass

  def _not_ready_message(self, timeout: float) -> str:
    raise NotImplementedError

  def stop(self, timeout: float = 10.0) -> None:
    del timeout
    with contextlib.suppress(Exception):
      self.channel.close()


class WorkerProcess(_Worker):
  """A local `worker_binary` subprocess, owned (and stopped) by the runtime.

  With `socket_path`, the worker runs in a private network namespace (see
  `isolated_worker.py`) and is reached through that Unix socket; `pid` is then
  the relay holding the worker, which exits with the worker's status.
  """

  def __init__(self, *, binary: str, port: int, log_path: str,
               max_concurrent_computation_calls: int, index: int = 0,
               socket_path: Optional[str] = None):
    self.port = port
    self.log_path = log_path
    self.isolated = socket_path is not None
    self._log = open(log_path, 'wb')  # pylint: disable=consider-using-with
    command = worker_command(port=port, binary=binary,
                             max_concurrent_computation_calls=max_concurrent_computation_calls)
    if self.isolated:
      command = [*_UNSHARE_NET, sys.executable, _ISOLATED_WORKER, f'--socket={socket_path}',
                 f'--parent={os.getpid()}', '--', *command]
    # PDEATHSIG fires when the *thread* that forked exits; runtimes are meant to
    # be started from the main thread (documented on ManagedRuntime).
    self.process = subprocess.Popen(  # pylint: disable=consider-using-with
        command,
        stdin=subprocess.DEVNULL,
        stdout=self._log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C in a terminal goes to us, not it.
        preexec_fn=isolated_worker.die_with_parent,
        close_fds=True,
    )
    super().__init__(index=index, address=f'unix:{socket_path}' if self.isolated
                     else f'localhost:{port}')

  @property
  def pid(self) -> int:
    return self.process.pid

  def describe(self) -> str:
    where = 'isolated, ' if self.isolated else ''
    return f'TFF worker {self.index} ({where}{self.address}, pid {self.pid})'

  def log_tail(self, max_bytes: int = 2000) -> str:
    try:
      with open(self.log_path, 'rb') as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - max_bytes))
        return f.read().decode(errors='replace')
    except OSError:
      return ''

  def lost_reason(self, error: Exception) -> Optional[str]:
    unavailable = isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.UNAVAILABLE
    try:
      # A refused connection may race the kernel reaping the process: give it
      # a moment then. Other errors come from a live worker (e.g. a failing op).
      code = self.process.wait(timeout=1.0 if unavailable else 0.0)
    except subprocess.TimeoutExpired:
      return None
    tail = self.log_tail().strip()
    return (f'exited with code {code} during the run; its log is {self.log_path}'
            + (f', which ends with:\n{tail}' if tail else ' (empty)'))

  def _raise_if_exited(self) -> None:
    if self.process.poll() is not None:
      raise RuntimeError(
          f'TFF worker on port {self.port} exited with code '
          f'{self.process.returncode} before it was ready. Its log '
          f'({self.log_path}) ends with:\n{self.log_tail()}'
      )

  def _not_ready_message(self, timeout: float) -> str:
    return (f'TFF worker on port {self.port} was not ready after {timeout:.0f} s. '
            f'Its log ({self.log_path}) ends with:\n{self.log_tail()}')

  def stop(self, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; always reaps the process."""
    super().stop()
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


class RemoteWorker(_Worker):
  """A worker started elsewhere (`bin/tff_worker`); never stopped by us."""

  def __init__(self, *, address: str, index: int, unreachable_timeout: float):
    super().__init__(index=index, address=address)
    self.command = WORKER_COMMAND.format(port=parse_worker_address(address)[1])
    self._unreachable_timeout = unreachable_timeout
    self._unreachable_since = None

  def lost_reason(self, error: Exception) -> Optional[str]:
    if not (isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.UNAVAILABLE):
      return None
    now = time.monotonic()
    if self._unreachable_since is None:
      self._unreachable_since = now
    if now - self._unreachable_since < self._unreachable_timeout:
      return None  # TFF retries; a brief network blip is not a lost worker.
    return (f'has been unreachable for {now - self._unreachable_since:.0f} s '
            f'(last error: {error.details()}). Check that `{self.command}` still runs '
            'there and that the network or SSH tunnel is up')

  def call_succeeded(self) -> None:
    super().call_succeeded()
    self._unreachable_since = None

  def _not_ready_message(self, timeout: float) -> str:
    return (f'{self.describe()} did not answer within {timeout:.0f} s. Start it on that '
            f'host with `{self.command}` (README, "Several TFF workers"), and check '
            'the address, the firewall or the SSH tunnel.')


def _monitored_rpc(name):
  def rpc(self, request):
    try:
      response = getattr(self._stub, name)(request)
    except grpc.RpcError as e:  # TFF's RetryableGRPCError is one too.
      reason = self._worker.lost_reason(e)
      if reason is not None:
        self._worker.lost = True
        raise WorkerLostError(f'{self._worker.describe()} {reason}',
                              address=self._worker.address) from e
      raise
    self._worker.call_succeeded()
    # Serialized sizes: what crossed the channel, for logs and the benchmark.
    self._worker.bytes_sent += request.ByteSize()
    self._worker.bytes_received += response.ByteSize()
    return response

  rpc.__name__ = name
  return rpc


class _MonitoredStub(tff.framework.RemoteExecutorStub):
  """TFF's gRPC stub, turning a failed call to a lost worker into an error.

  Without it TFF's context retries the call forever. Disposal calls pass
  through unchanged: TFF ignores their errors by design.
  """

  def __init__(self, stub, worker: _Worker):
    self._stub = stub
    self._worker = worker

  get_executor = _monitored_rpc('get_executor')
  create_value = _monitored_rpc('create_value')
  create_struct = _monitored_rpc('create_struct')
  create_call = _monitored_rpc('create_call')
  create_selection = _monitored_rpc('create_selection')
  compute = _monitored_rpc('compute')

  def dispose(self, request):
    return self._stub.dispose(request)

  def dispose_executor(self, request):
    return self._stub.dispose_executor(request)

  @property
  def is_ready(self) -> bool:
    return self._stub.is_ready


def _compile_for_workers(num_workers: int):
  """TFF's mergeable-form compiler, with an error that names the way out."""

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
        `worker_addresses`, a bad or refused address (`check_worker_addresses`),
        or a non-positive timeout.
      FileNotFoundError: the worker binary does not exist (local workers).
    """
    if worker_addresses is not None:
      if num_workers is not None:
        raise ValueError(
            'Pass either `num_workers` (local workers) or `worker_addresses` (running '
            'workers), not both.')
      self._addresses = check_worker_addresses(
          worker_addresses, allow_remote_workers=allow_remote_workers)
      num_workers = len(self._addresses)
    else:
      self._addresses = None
      num_workers = 1 if num_workers is None else num_workers
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
      raise ValueError(f'`num_workers` must be a positive integer, got {num_workers!r}.')
    if not startup_timeout > 0:
      raise ValueError(f'`startup_timeout` must be > 0, got {startup_timeout!r}.')
    if not unreachable_timeout > 0:
      raise ValueError(f'`unreachable_timeout` must be > 0, got {unreachable_timeout!r}.')
    self._binary = worker_binary or default_worker_binary()
    if self._addresses is None and not os.path.isfile(self._binary):
      raise FileNotFoundError(
          f'TFF worker binary not found at {self._binary}; is '
          'tensorflow-federated 0.87 installed (see README, Install)?'
      )
    if isolate_local_workers and self._addresses is None:
      reason = network_isolation_error()
      if reason is not None:
        raise RuntimeError(
            f'Local TFF workers cannot be isolated from the network here: {reason}. Pass '
            'isolate_local_workers=None (or False) to run them on all interfaces.')
    self._isolate = isolate_local_workers
    self._socket_dir = None
    self._own_log_dir = None
    self._num_workers = num_workers
    self._unreachable_timeout = unreachable_timeout
    self._default_num_clients = default_num_clients
    self._max_calls = max_concurrent_computation_calls
    self._startup_timeout = startup_timeout
    self._log_dir = log_dir
    self._workers: list[_Worker] = []
    self._previous_context = None
    self._previous_handlers = {}
    self._lock = threading.Lock()
    self._started = False

  @property
  def worker_addresses(self) -> Optional[list[str]]:
    """The checked `worker_addresses` ('host:port'); None for local workers."""
    return None if self._addresses is None else list(self._addresses)

  @property
  def workers(self) -> list[_Worker]:
    return list(self._workers)

  @property
  def worker_pids(self) -> list[int]:
    """PIDs of the local workers (remote ones have none here)."""
    return [w.pid for w in self._workers if isinstance(w, WorkerProcess)]

  def _start_workers(self) -> None:
    if self._addresses is not None:
      for i, address in enumerate(self._addresses):
        self._workers.append(RemoteWorker(
            address=address, index=i, unreachable_timeout=self._unreachable_timeout))
    else:
      if self._log_dir is None:
        log_dir = self._own_log_dir = tempfile.mkdtemp(prefix='antigan_tf-tff-workers-')
      else:
        log_dir = self._log_dir
        os.makedirs(log_dir, exist_ok=True)
      isolate = self._isolate
      if isolate is None:
        reason = network_isolation_error()
        isolate = reason is None
        if not isolate:
          _LOG.warning(
              'Local TFF workers run unisolated: they listen on every interface of this '
              'host, unauthenticated, while the run lasts (%s). Keep their ports closed to '
              'other hosts (firewall).', reason)
      if isolate:
        # Short path: a Unix socket path is limited to 107 bytes.
        self._socket_dir = tempfile.mkdtemp(prefix='antigan_tf-')
      for i in range(self._num_workers):
        port = portpicker.pick_unused_port()
        worker = WorkerProcess(
            binary=self._binary,
            port=port,
            log_path=os.path.join(log_dir, f'worker-{i}-port{port}.log'),
            max_concurrent_computation_calls=self._max_calls,
            index=i,
            socket_path=os.path.join(self._socket_dir, f'w{i}.sock') if isolate else None,
        )
        self._workers.append(worker)
        _LOG.info('Started %s.', worker.describe())
    for worker in self._workers:
      worker.wait_ready(self._startup_timeout)

  def _executor_factory(self, worker: _Worker):
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
      stack = tff.framework.get_context_stack()
      self._previous_context = stack.current
      tff.framework.set_default_context(context)
      self._install_signal_handlers()
      self._started = True
      return self

  def _stop_workers(self, keep_logs: bool = False) -> None:
    for worker in self._workers:
      _LOG.info('Closing %s: %d calls, %.1f MB sent, %.1f MB received.', worker.describe(),
                worker.calls, worker.bytes_sent / 1e6, worker.bytes_received / 1e6)
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
      if self._previous_context is not None:
        with contextlib.suppress(Exception):
          tff.framework.set_default_context(self._previous_context)
      self._previous_context = None
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
