"""Argument checks with messages that name the argument (plain Python)."""

import math

import numpy as np


def check_int(value, argname: str, minimum: int) -> int:
  """An integer >= `minimum` (bools rejected), as a Python int."""
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
    raise ValueError(f'`{argname}` must be an integer >= {minimum}, got {value!r}.')
  return int(value)


def check_positive_float(value, argname: str) -> float:
  """A finite number > 0, as a Python float."""
  if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
    raise ValueError(f'`{argname}` must be a number, got {value!r}.')
  number = float(value)
  if not math.isfinite(number) or number <= 0:
    raise ValueError(f'`{argname}` must be finite and > 0, got {value!r}.')
  return number


def check_non_negative_float(value, argname: str) -> float:
  """A finite number >= 0, as a Python float."""
  if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
    raise ValueError(f'`{argname}` must be a number, got {value!r}.')
  number = float(value)
  if not math.isfinite(number) or number < 0:
    raise ValueError(f'`{argname}` must be finite and >= 0, got {value!r}.')
  return number
