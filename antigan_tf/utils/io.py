"""File helpers shared by the run functions (plain `csv`/`os`, no TF)."""

import csv
import io as io_lib
import json
import os
from collections.abc import Mapping
from typing import Any, Optional


# Output directories this library creates are private to the user: they hold
# the victim's images (victim/real_target_class.png) and models trained on them.
PRIVATE_DIR_MODE = 0o700


def make_private_dir(path: str) -> str:
  """Creates directory `path` (and its parents), the leaf with mode 0700.

  An existing directory keeps its mode: `--output_dir=.` must not lock others
  out of a directory the user chose.

  Raises:
    ValueError: `path` is a file, or cannot be created (the reason named).
  """
  try:
    os.makedirs(path, mode=PRIVATE_DIR_MODE, exist_ok=True)
  except FileExistsError:
    raise ValueError(f'{path!r} exists and is not a directory.') from None
  except OSError as e:
    raise ValueError(f'{path!r} cannot be created: {e.strerror or e}.') from None
  return path


def write_hparams_csv(path: str, hparams: Mapping[str, Any]) -> str:
  """Writes hyperparameters as a two-column CSV (name,value), atomically.

  Rows are sorted by name; values are written by `format_hparam` (None as '',
  tuples as '(0, 1)'). The file is written to `path + '.tmp'` and renamed,
  so a reader never sees a half-written file.

  Args:
    path: the CSV file to (over)write. Its directory must exist.
    hparams: name -> value.

  Returns:
    `path`.
  """
  path = os.fspath(path)
  tmp = path + '.tmp'
  with open(tmp, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['name', 'value'])
    for name in sorted(hparams):
      writer.writerow([name, format_hparam(hparams[name])])
  os.replace(tmp, path)
  return path


def format_hparam(value: Any) -> str:
  """How `write_hparams_csv` writes a value: None as '', the rest with `str`."""
  return '' if value is None else str(value)


def read_hparams_csv(path: str) -> dict[str, str]:
  """Reads a file written by `write_hparams_csv` back as name -> value string."""
  _, rows = read_csv_rows(path)
  return {row['name']: row['value'] for row in rows}


def read_csv_rows(path: str) -> tuple[list[str], list[dict[str, str]]]:
  """(fieldnames, rows as dicts) of a CSV file; ([], []) if absent or empty."""
  path = os.fspath(path)
  if not os.path.exists(path) or os.path.getsize(path) == 0:
    return [], []
  with open(path, newline='') as f:
    reader = csv.DictReader(f)
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def write_csv_rows(path: str, rows, fieldnames=None) -> str:
  """Writes dict rows under a header, atomically (`read_csv_rows` reads them).

  The columns are `fieldnames`, or every key of the rows in first-seen order;
  a missing value or None is written as ''.
  """
  if fieldnames is None:
    fieldnames = list(dict.fromkeys(k for row in rows for k in row))
  buffer = io_lib.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=list(fieldnames), restval='')
  writer.writeheader()
  writer.writerows({k: '' if v is None else v for k, v in row.items()} for row in rows)
  return write_text_atomic(path, buffer.getvalue())


def write_text_atomic(path: str, text: str) -> str:
  """Writes `text` to a per-process temporary file and renames it over `path`,
  so a reader never sees a half-written file."""
  path = os.fspath(path)
  tmp = f'{path}.tmp-{os.getpid()}'
  try:
    with open(tmp, 'w', newline='') as f:
      f.write(text)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return path


def write_json_atomic(path: str, payload: Mapping[str, Any], *, sort_keys: bool = True) -> str:
  """Writes JSON atomically (`write_text_atomic`)."""
  return write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=sort_keys) + '\n')


def savez_atomic(path: str, **arrays) -> str:
  """`numpy.savez` to a temporary file renamed over `path` (never half-written)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  path = os.fspath(path)
  tmp = f'{path}.tmp-{os.getpid()}.npz'
  try:
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  return path


def load_keyed_npz(path: str, key: str) -> Optional[dict]:
  """The arrays of an .npz written with `key=` (`savez_atomic`) if its key is
  `key`; None when the file is absent, unreadable or holds another key."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  try:
    with np.load(path) as saved:
      if str(saved['key']) != key:
        return None
      return {name: saved[name] for name in saved.files if name != 'key'}
  except (OSError, KeyError, ValueError):
    return None


def read_json(path: str) -> Mapping[str, Any]:
  """The JSON object in `path`; {} if the file does not exist."""
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)
