"""Output directories: private to the user when the library creates them."""

import os
import stat

from antigan_tf.utils import io as io_utils


def _mode(path):
  return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_directory_is_private_and_an_existing_one_keeps_its_mode(tmp_path):
  old_umask = os.umask(0o022)  # The usual umask: 0755 for a plain makedirs.
  try:
    created = io_utils.make_private_dir(str(tmp_path / 'parent' / 'run'))
    assert _mode(created) == 0o700
    assert _mode(tmp_path / 'parent') == 0o755  # Only the leaf is the library's.
    shared = tmp_path / 'shared'
    shared.mkdir(mode=0o755)
    io_utils.make_private_dir(str(shared))
    assert _mode(shared) == 0o755  # The user chose this directory; it is left alone.
  finally:
    os.umask(old_umask)
