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


def worker_pids() -> list[int]:
  """PIDs of live TFF worker_binary processes on this machine."""
  pids = []
  for entry in os.listdir('/proc'):
    if not entry.isdigit():
      continue
    try:
      with open(f'/proc/{entry}/cmdline', 'rb') as f:
        cmd = f.read()
    except OSError:
      continue
    if b'worker_binary' in cmd.split(b'\0')[0] and process_alive(int(entry)):
      pids.append(int(entry))
  return pids
