"""Runs a TFF worker in a private network namespace, reachable by a Unix socket.

TFF's `worker_binary` listens on every interface and has no flag to change
that. `ManagedRuntime` therefore starts this script under
`unshare --net --map-root-user`: in the new namespace only a loopback
interface exists, so the worker cannot be reached from the network at all.
The script brings that loopback up, starts the worker on it, and relays
connections from a Unix socket (a file, which crosses network namespaces) to
the worker's port. The runtime's gRPC channel connects to `unix:<socket>`.

It exits when the worker exits, with the worker's status (killed by a signal:
killed by the same one), and stops the worker on SIGTERM/SIGINT or when its
parent dies. Standard library only: it runs by path, without the package.

  python isolated_worker.py --socket=PATH --parent=PID -- worker_binary --port=P ...
  python isolated_worker.py --check    # under unshare: can the loopback come up?
"""

import argparse
import asyncio
import ctypes
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys

_PR_SET_PDEATHSIG = 1
# ioctl requests that read and set a network interface's state bits.
_GET_INTERFACE_STATE = 0x8913
_SET_INTERFACE_STATE = 0x8914
_IFF_UP = 0x1
_CHUNK = 1 << 20


def _load_prctl():
  try:
    return ctypes.CDLL(None, use_errno=True).prctl
  except (OSError, AttributeError):  # Not Linux: no parent-death signal.
    return None


# Resolved at import, not in a forked child: after fork only async-signal-safe
# work is allowed, and ctypes loading is not.
_PRCTL = _load_prctl()


def die_with_parent():
  """SIGKILL the calling process when the thread that started it dies.

  A `preexec_fn` of the runtime (for local workers) and of the relay (for the
  worker it starts); the relay also calls it for itself.
  """
  if _PRCTL is not None:
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _bring_loopback_up():
  """`ip link set lo up`, with an ioctl (no iproute2 needed)."""
  with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    request = struct.pack('16sH22x', b'lo', 0)
    state = struct.unpack('16sH22x', fcntl.ioctl(s, _GET_INTERFACE_STATE, request))[1]
    fcntl.ioctl(s, _SET_INTERFACE_STATE, struct.pack('16sH22x', b'lo', state | _IFF_UP))


def _port_of(command):
  for arg in command:
    if arg.startswith('--port='):
      return int(arg.split('=', 1)[1])
  raise SystemExit('isolated_worker: the worker command has no --port=P')


async def _pipe(reader, writer):
  try:
    while True:
      data = await reader.read(_CHUNK)
      if not data:
        break
      writer.write(data)
      await writer.drain()
  except (ConnectionError, OSError):
    pass
  finally:
    writer.close()


async def _relay(port, client_reader, client_writer):
  try:
    worker_reader, worker_writer = await asyncio.open_connection('127.0.0.1', port)
  except OSError:
    client_writer.close()
    return
  await asyncio.gather(_pipe(client_reader, worker_writer), _pipe(worker_reader, client_writer))


async def _wait_for_port(port, worker):
  while worker.poll() is None:
    try:
      _, writer = await asyncio.open_connection('127.0.0.1', port)
      writer.close()
      return
    except OSError:
      await asyncio.sleep(0.02)


async def _serve(socket_path, command):
  port = _port_of(command)
  worker = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                            preexec_fn=die_with_parent)
  loop = asyncio.get_running_loop()
  stop = asyncio.Event()
  for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    loop.add_signal_handler(signum, stop.set)
  await _wait_for_port(port, worker)
  server = None
  if worker.poll() is None:
    # Listen only once the worker accepts: a client never meets a dead end.
    server = await asyncio.start_unix_server(lambda r, w: _relay(port, r, w), path=socket_path)
  while worker.poll() is None and not stop.is_set():
    try:
      await asyncio.wait_for(stop.wait(), timeout=0.1)
    except asyncio.TimeoutError:
      pass
  if server is not None:
    server.close()
  if worker.poll() is None:
    worker.terminate()
    try:
      worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
      worker.kill()
  return worker.wait()


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--check', action='store_true',
                      help='only bring the loopback up and exit (can we isolate here?)')
  parser.add_argument('--socket', help='Unix socket path to relay from.')
  parser.add_argument('--parent', type=int, help='PID whose death ends us.')
  parser.add_argument('command', nargs=argparse.REMAINDER, help='-- worker_binary --port=P ...')
  args = parser.parse_args()
  command = args.command[1:] if args.command[:1] == ['--'] else args.command
  if args.check:
    _bring_loopback_up()
    return
  if not args.socket or not args.parent or not command:
    parser.error('--socket, --parent and a worker command are required')
  # `unshare --map-root-user` clears the parent-death signal the runtime set;
  # set it again, and leave if the parent died before that.
  die_with_parent()
  if os.getppid() != args.parent:
    sys.exit('isolated_worker: the runtime that started it is gone')
  _bring_loopback_up()
  code = asyncio.run(_serve(args.socket, command))
  if code < 0:  # Killed by a signal: end the same way, so the runtime sees it.
    sys.stdout.flush()
    if -code not in (signal.SIGKILL, signal.SIGSTOP):  # Those cannot be handled.
      signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
  sys.exit(code)


if __name__ == '__main__':
  main()
