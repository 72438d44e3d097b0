"""absl flags derived from configuration dataclasses (`antigan_tf.utils.settings`).

The binaries in `bin/` call `define_flags` at import and `flat_values` in
`main`, then build their configuration with `settings.from_flat`, which checks
every value and names the flag in any error. No flag is written out by hand.
"""

from collections.abc import Iterable
from typing import Any

from absl import flags

from antigan_tf.utils import settings


def define_flags(specs: Iterable[settings.FlagSpec], flag_values: flags.FlagValues,
                 help_prefix: str = '') -> list[str]:
  """Defines one absl flag per spec in `flag_values`.

  Args:
    specs: from `settings.flag_specs`.
    flag_values: where to define them (the binary's global FlagValues).
    help_prefix: put before every help text (e.g. which defense it is for).

  Returns:
    The names defined, in order. The binary declares them its key flags
    (`flags.declare_key_flag`), so its --help shows them.
  """
  names = []
  for spec in specs:
    help_text = f'{help_prefix}{spec.help}'
    default = spec.default
    if spec.kind == 'enum':
      flags.DEFINE_enum(spec.name, default, list(spec.choices), help_text,
                        flag_values=flag_values)
    elif spec.kind in ('int_list', 'str_list'):
      flags.DEFINE_list(spec.name, [str(v) for v in default], help_text,
                        flag_values=flag_values)
    else:
      define = {'int': flags.DEFINE_integer, 'float': flags.DEFINE_float,
                'str': flags.DEFINE_string, 'bool': flags.DEFINE_boolean}[spec.kind]
      define(spec.name, default, help_text, flag_values=flag_values)
    names.append(spec.name)
  return names


def flat_values(specs: Iterable[settings.FlagSpec],
                flag_values: flags.FlagValues) -> dict[str, Any]:
  """Flag name -> parsed value; list flags as tuples (their items checked later)."""
  values = {}
  for spec in specs:
    value = flag_values[spec.name].value
    if spec.kind in ('int_list', 'str_list'):
      value = tuple(value or ())
    values[spec.name] = value
  return values
