"""Value checks (plain Python).

Two layers. The check factories (`integer`, `number`, `one_of`, `optional`,
`each`, `address_list`) build a check: a function `value -> normalised value`
that raises `ValueError` with the problem only ("must be an integer >= 1, got
0."), so the caller says whose value it is. Settings declare such a check once
(`antigan_tf.utils.settings`); the caller names the setting, or the flag as
the user typed it.

`check_int`, `check_positive_float` and `check_non_negative_float` are the same
checks for function arguments, with the argument's name in the message.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any, Optional

import numpy as np

Check = Callable[[Any], Any]


def _is_integer(value) -> bool:
  return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value) -> bool:
  return (isinstance(value, (int, float, np.integer, np.floating))
          and not isinstance(value, (bool, np.bool_)))


def _bounds(minimum, maximum, open_minimum: bool = False, open_maximum: bool = False) -> str:
  """'in [a, b)', '>= a', '< b' or '' for the message of a check."""
  if minimum is not None and maximum is not None:
    return (f'in {"(" if open_minimum else "["}{minimum:g}, {maximum:g}'
            f'{")" if open_maximum else "]"}')
  if minimum is not None:
    return f'{">" if open_minimum else ">="} {minimum:g}'
  if maximum is not None:
    return f'{"<" if open_maximum else "<="} {maximum:g}'
  return ''


def integer(minimum: Optional[int] = None, maximum: Optional[int] = None) -> Check:
  """An integer in [minimum, maximum] (bools rejected), as a Python int."""
  bound = _bounds(minimum, maximum)
  bound = f' {bound}' if bound else ''

  def check(value) -> int:
    if (not _is_integer(value) or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)):
      raise ValueError(f'must be an integer{bound}, got {value!r}.')
    return int(value)

  return check


def number(minimum: Optional[float] = None, maximum: Optional[float] = None, *,
           open_minimum: bool = False, open_maximum: bool = False) -> Check:
  """A finite number within the bounds, as a Python float.

  Args:
    minimum: lower bound, or None.
    maximum: upper bound, or None.
    open_minimum: exclude `minimum` itself (> instead of >=).
    open_maximum: exclude `maximum` itself.
  """
  bound = _bounds(minimum, maximum, open_minimum, open_maximum)
  bound = f' and {bound}' if bound else ''

  def within(x: float) -> bool:
    if minimum is not None and (x <= minimum if open_minimum else x < minimum):
      return False
    return not (maximum is not None and (x >= maximum if open_maximum else x > maximum))

  def check(value) -> float:
    if not _is_number(value):
      raise ValueError(f'must be a number, got {value!r}.')
    x = float(value)
    if not (math.isfinite(x) and within(x)):
      raise ValueError(f'must be finite{bound}, got {value!r}.')
    return x

  return check


def one_of(choices: Sequence[str]) -> Check:
  """One of `choices` (strings)."""
  choices = tuple(choices)

  def check(value) -> str:
    if value not in choices:
      raise ValueError(f'must be one of {", ".join(choices)}; got {value!r}.')
    return value

  return check


def text(*, required: bool = False) -> Check:
  """A string (None allowed unless `required`)."""

  def check(value):
    if value is None and not required:
      return None
    if not isinstance(value, str) or (required and not value):
      raise ValueError(f'must be a{" non-empty" if required else ""} string, got {value!r}.')
    return value

  return check


def boolean(value) -> bool:
  """A bool (numpy bools included)."""
  if not isinstance(value, (bool, np.bool_)):
    raise ValueError(f'must be true or false, got {value!r}.')
  return bool(value)


def optional(check: Check) -> Check:
  """None, or a value that passes `check`."""

  def check_optional(value):
    if value is None:
      return None
    try:
      return check(value)
    except ValueError as e:
      raise ValueError(f'{str(e).rstrip(".")} (or unset).') from None

  return check_optional


def each(check: Check, *, unique: bool = False, choices: Optional[Sequence[str]] = None) -> Check:
  """A sequence (a comma-separated string is split) of values that pass `check`.

  Returns the values as a tuple.
  """

  def check_each(value) -> tuple:
    if isinstance(value, str):
      value = [v.strip() for v in value.split(',') if v.strip()]
    if not isinstance(value, (list, tuple)):
      raise ValueError(f'must be a list, got {value!r}.')
    items = []
    for item in value:
      try:
        items.append(check(item))
      except ValueError as e:
        raise ValueError(f'has a bad item {item!r}: {e}') from None
    if unique and len(set(items)) != len(items):
      raise ValueError(f'must not repeat an item, got {list(value)!r}.')
    if choices is not None:
      unknown = [item for item in items if item not in choices]
      if unknown:
        raise ValueError(f'has unknown item(s) {unknown}; choose from {", ".join(choices)}.')
    return tuple(items)

  return check_each


def string_item(value) -> str:
  """A non-empty string (an item of a list setting)."""
  if not isinstance(value, str) or not value:
    raise ValueError(f'must be a non-empty string, got {value!r}.')
  return value


def int_item(value) -> int:
  """An integer, or a string that spells one (an item of a list flag)."""
  if isinstance(value, str):
    try:
      value = int(value)
    except ValueError:
      raise ValueError(f'must be an integer, got {value!r}.') from None
  return integer()(value)


def _named(check: Check, value, argname: str):
  try:
    return check(value)
  except ValueError as e:
    raise ValueError(f'`{argname}` {e}') from None


def check_int(value, argname: str, minimum: int) -> int:
  """An integer >= `minimum` (bools rejected), as a Python int."""
  return _named(integer(minimum), value, argname)


def check_unit_interval(value, argname: str) -> float:
  """A finite number in [0, 1], as a Python float."""
  return _named(number(0, 1), value, argname)


def check_adam_beta(value, argname: str) -> float:
  """A finite number in [0, 1) (an Adam beta), as a Python float."""
  return _named(number(0, 1, open_maximum=True), value, argname)


def check_choice(value, argname: str, choices: Sequence[str]) -> str:
  """One of `choices`."""
  return _named(one_of(choices), value, argname)


def check_positive_float(value, argname: str) -> float:
  """A finite number > 0, as a Python float."""
  return _named(number(0, open_minimum=True), value, argname)


def check_non_negative_float(value, argname: str) -> float:
  """A finite number >= 0, as a Python float."""
  return _named(number(0), value, argname)
