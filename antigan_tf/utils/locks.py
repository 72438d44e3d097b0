"""One process per output directory: an exclusive, non-blocking `fcntl.flock`
on a lock file in it. The OS releases the lock when the process exits or is
killed, so a crashed run never leaves a stale lock behind."""

import contextlib
import fcntl
import os


class DirectoryInUseError(ValueError):
  """Another process holds the directory's lock (a usage error: exit 2)."""


@contextlib.contextmanager
def exclusive_lock(lock_path: str, *, what: str):
  """Holds the lock at `lock_path` for the `with` block, or refuses at once.

  The holder writes its pid into the file, so that a refusal can name it.

  Args:
    lock_path: the lock file (created if missing; never deleted).
    what: how the refusal names the locked thing, e.g. "Run directory 'x'".

  Raises:
    DirectoryInUseError: another process holds the lock.
  """
  with open(lock_path, 'a+') as lock_file:
    try:
      fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      lock_file.seek(0)
      holder = lock_file.read().strip() or 'another process'
      raise DirectoryInUseError(
          f'{what} is in use by {holder}: wait for it to finish, or use another '
          'output directory.') from None
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(f'pid {os.getpid()}\n')
    lock_file.flush()
    yield
