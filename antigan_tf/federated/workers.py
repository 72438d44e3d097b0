"""The TFF workers a `ManagedRuntime` talks to: local processes or addresses.

* `WorkerProcess`: a local `worker_binary` subprocess, in its own process
  session, with its output in a log file (never our stdout), and with a
  parent-death signal so even a SIGKILL of Python takes the worker down.
* `RemoteWorker`: a worker already running elsewhere (`bin/tff_worker
  --port=P`), reached by 'host:port'; never stopped by us.

A lost worker. TFF retries a call to an unreachable worker forever (the async
context's retry has no limit), so a dead worker would hang the run. Every call
goes through a stub (`_MonitoredStub`) that, when a call fails, asks the
worker's owner: a local worker whose process has exited, or a remote one
unreachable for longer than `unreachable_timeout`, raises `WorkerLostError`
naming it.

Security. `worker_binary` has no flag to choose an interface: it listens on
all of the host's interfaces, speaks plaintext gRPC and runs whatever
computation it is sent, as its user. Local workers therefore run, where the
machine allows it (`network_isolation_error`), in a private network namespace
(`unshare --net`) reached through a Unix socket: no other host can reach them.
Remote addresses that are not loopback are refused by `check_worker_addresses`
unless `allow_remote_workers=True` (use a private network or an SSH tunnel;
see docs/security.md).
"""

import contextlib
import functools
import ipaddress
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Optional

import grpc
import tensorflow_federated as tff

from antigan_tf.federated import isolated_worker
from antigan_tf.utils.tff_worker import worker_command

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
# The command that starts a worker for `worker_addresses` (docs/runtime-and-workers.md).
WORKER_COMMAND = 'bin/tff_worker --port={port}'


class WorkerLostError(RuntimeError):
  """A TFF worker died or became unreachable while the runtime used it."""

  def __init__(self, message: str, *, address: str):
    super().__init__(message)
    self.address = address


def parse_worker_address(address: str) -> tuple[str, int]:
  """Splits 'host:port' (or '[v6]:port') into (host, port).

  Args:
    address: the worker's address.

  Returns:
    The host (without brackets) and the port.

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

  Args:
    host: a host name or an IP address literal.

  Returns:
    Whether only this machine can be reached at `host`.

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
    addresses: 'host:port' strings (or one comma-separated string).
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
  """Whether local workers can run in a private network namespace.

  Returns:
    None if they can; else why not, for a warning or an error.
  """
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


class Worker:
  """A worker the runtime talks to: its address, channel and gRPC stub.

  The base of `WorkerProcess` and `RemoteWorker`, which say when the worker
  is lost (`lost_reason`) and what to do when it does not start.
  """

  def __init__(self, *, index: int, address: str):
    """Opens the channel; it connects lazily.

    Args:
      index: the worker's position in the runtime, for messages.
      address: a gRPC target: 'host:port' or 'unix:<path>'.
    """
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

    Args:
      timeout: seconds to wait.

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


class WorkerProcess(Worker):
  """A local `worker_binary` subprocess, owned (and stopped) by the runtime.

  With `socket_path`, the worker runs in a private network namespace (see
  `isolated_worker.py`) and is reached through that Unix socket; `pid` is then
  the relay holding the worker, which exits with the worker's status.
  """

  def __init__(self, *, binary: str, port: int, log_path: str,
               max_concurrent_computation_calls: int, index: int = 0,
               socket_path: Optional[str] = None):
    """Starts the worker; `wait_ready` waits until it accepts calls.

    Args:
      binary: path of `worker_binary`.
      port: the port it serves on (inside its namespace when isolated).
      log_path: file that receives its stdout and stderr.
      max_concurrent_computation_calls: its cap on parallel calls of a
        computation; non-positive means no cap.
      index: its position in the runtime, for messages.
      socket_path: the Unix socket of an isolated worker; None: unisolated,
        reached at localhost:`port`.
    """
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


class RemoteWorker(Worker):
  """A worker started elsewhere (`bin/tff_worker`); never stopped by us."""

  def __init__(self, *, address: str, index: int, unreachable_timeout: float):
    """Opens a channel to the worker.

    Args:
      address: its checked 'host:port' (`check_worker_addresses`).
      index: its position in the runtime, for messages.
      unreachable_timeout: seconds it may stay unreachable before it is lost.
    """
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
            f'host with `{self.command}` (docs/runtime-and-workers.md), and check '
            'the address, the firewall or the SSH tunnel.')


def _monitored_rpc(name: str):
  """A `_MonitoredStub` method calling the wrapped stub's method `name`.

  Args:
    name: the gRPC method of `tff.framework.RemoteExecutorStub`.

  Returns:
    The method: it counts the call and its bytes on the worker, and turns a
    failure of a lost worker into `WorkerLostError`.
  """

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

  def __init__(self, stub, worker: Worker):
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
