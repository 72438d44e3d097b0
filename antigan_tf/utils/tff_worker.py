"""The TFF `worker_binary` command line, found without importing TF or TFF.

`bin/tff_worker` only needs to exec TFF's worker: importing TensorFlow first
would cost seconds and fill its terminal with TF's start-up logs. The runtime
(`antigan_tf.federated.workers`) starts local workers with the same command.
"""

import errno
import importlib.util
import os
import socket
from collections.abc import Callable
from typing import Optional

from antigan_tf.utils import stacks


def default_worker_binary() -> str:
  """Path of the `worker_binary` shipped inside the TFF wheel.

  Raises:
    FileNotFoundError: tensorflow-federated is not installed.
  """
  spec = importlib.util.find_spec('tensorflow_federated')
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError(f'No TFF worker binary: {stacks.missing_tff_message()}')
  return os.path.join(list(spec.submodule_search_locations)[0], 'data', 'worker_binary')


def worker_command(*, port: int, max_concurrent_computation_calls: int = -1,
                   binary: Optional[str] = None) -> list[str]:
  """The `worker_binary` command line serving on `port` (all interfaces)."""
  return [
      binary or default_worker_binary(),
      f'--port={port}',
      f'--max_concurrent_computation_calls={max_concurrent_computation_calls}',
  ]


def check_port_free(port: int) -> None:
  """Refuses a port something on this host already listens on.

  The worker binary only logs a gRPC "Address already in use" dump and exits
  0 then, so `exec_worker` asks first: it binds the port on every IPv4 and
  IPv6 interface, as the worker will, and lets go.

  Raises:
    ValueError: the port is in use.
  """
  for family, address in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
    try:
      probe = socket.socket(family, socket.SOCK_STREAM)
    except OSError:  # No IPv6 on this host.
      continue
    with probe:
      try:
        probe.bind((address, port))
      except OSError as e:
        if e.errno == errno.EADDRINUSE:
          raise ValueError(f'Port {port} is already in use on this host; choose another '
                           '--port.') from None
        if e.errno != errno.EADDRNOTAVAIL:
          raise


def exec_worker(*, port: int, max_concurrent_computation_calls: int = -1,
                binary: Optional[str] = None,
                announce: Optional[Callable[[list[str]], None]] = None) -> None:
  """Replaces this process with a TFF worker serving on `port` (`bin/tff_worker`).

  Args:
    port: TCP port to serve on, on every interface.
    max_concurrent_computation_calls: cap on parallel calls of a computation;
      non-positive means no cap.
    binary: path of `worker_binary`; default the one in the TFF wheel.
    announce: called with the command once it is checked, just before exec.

  Raises:
    ValueError: `port` not in 1..65535, or in use (`check_port_free`).
    FileNotFoundError: the worker binary does not exist.
  """
  if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
    raise ValueError(f'`port` must be in 1..65535, got {port!r}.')
  command = worker_command(port=port, binary=binary,
                           max_concurrent_computation_calls=max_concurrent_computation_calls)
  if not os.path.isfile(command[0]):
    raise FileNotFoundError(f'TFF worker binary not found at {command[0]}.')
  check_port_free(port)
  if announce is not None:
    announce(command)
  os.execv(command[0], command)
