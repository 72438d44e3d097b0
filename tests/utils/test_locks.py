"""One process per output directory: a second holder is refused at once."""

import os
import subprocess
import sys
import textwrap

import pytest

from antigan_tf.utils import locks

# Holds the lock in another process until its stdin closes.
_HOLDER = textwrap.dedent('''
    import sys
    from antigan_tf.utils import locks
    with locks.exclusive_lock(sys.argv[1], what='x'):
      print('held', flush=True)
      sys.stdin.read()
''')


def test_a_second_process_is_refused_and_the_lock_dies_with_its_holder(tmp_path):
  path = str(tmp_path / '.lock')
  holder = subprocess.Popen([sys.executable, '-c', _HOLDER, path], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'held'
    with pytest.raises(locks.DirectoryInUseError,
                       match=rf"^Run directory 'd' is in use by pid {holder.pid}: wait"):
      with locks.exclusive_lock(path, what="Run directory 'd'"):
        pass
  finally:
    holder.kill()  # Killed, not released: the OS frees the lock.
    holder.wait()
  with locks.exclusive_lock(path, what='x'):
    with open(path) as f:
      assert f.read() == f'pid {os.getpid()}\n'
  assert issubclass(locks.DirectoryInUseError, ValueError)  # A usage error: exit 2.
