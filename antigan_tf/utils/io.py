"""File helpers shared by the run functions (plain `csv`/`os`, no TF)."""

import csv
import os
from collections.abc import Mapping
from typing import Any


def write_hparams_csv(path: str, hparams: Mapping[str, Any]) -> str:
  """Writes hyperparameters as a two-column CSV (name,value), atomically.

  Rows are sorted by name; values are written with `str` (None as 'None',
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
      writer.writerow([name, hparams[name]])
  os.replace(tmp, path)
  return path
