"""The flags a sweep gives each run of `bin/run_tff`, built and checked in one place.

A run gets `--flagfile=<base> <its grid values> <extra flags>` (later flags
win). `run_arguments` builds that list; `parse_run_flags` reads it as
run_tff's flag parser will (flagfiles expanded, the last value of a flag
kept, each value converted by its setting's kind, `--name`/`--noname` for
booleans); `check_runs` builds each run's `ExperimentConfig` from it, so
that a bad value (`--grid=rounds=abc`, a mix ratio out of range) is refused
at the start of the sweep, and by `--dry_run`, naming the run and the flag,
instead of failing every run one by one. Plain Python: the flags' kinds come
from `ExperimentConfig`'s settings, not from absl.
"""

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from antigan_tf.federated import config as experiment_config
from antigan_tf.layout import run_name
from antigan_tf.utils import settings

# run_tff flags the sweep sets itself: neither a grid nor --extra_flag may.
RESERVED = frozenset({'output_dir', 'flagfile', 'overwrite', 'progress'})
# Any output directory: run_tff requires one; the check writes nothing.
_PLACEHOLDER_OUTPUT_DIR = 'unused'
_TRUE = ('true', 't', '1', 'yes')
_FALSE = ('false', 'f', '0', 'no')


@functools.lru_cache(maxsize=1)
def _specs() -> Mapping[str, settings.FlagSpec]:
  return {s.name: s for s in settings.flag_specs(experiment_config.ExperimentConfig)}


def run_arguments(base_flagfile: str, params: Mapping[str, Any],
                  extra_flags: Sequence[str]) -> list[str]:
  """A run's flags, in the order run_tff gets them (the last value wins)."""
  return [f'--flagfile={base_flagfile}', *(f'--{k}={v}' for k, v in params.items()),
          *extra_flags]


def extra_flag_name(flag: str) -> str:
  """The flag an `--extra_flag` sets: `--name=value` -> name, `--noname` -> name.

  Raises:
    ValueError: not of the form `--name[=value]`.
  """
  if not flag.startswith('--') or len(flag) < 3:
    raise ValueError(f'--extra_flag {flag!r} must be --name=value (or --name, --noname).')
  name = flag[2:].split('=', 1)[0]
  if name not in _specs() and name.startswith('no') and name[2:] in _specs():
    name = name[2:]
  return name


def check_extra_flags(extra_flags: Sequence[str]) -> None:
  """Refuses `--extra_flag`s that are not run_tff flags or that the sweep sets.

  Raises:
    ValueError: naming the flag.
  """
  for flag in extra_flags:
    name = extra_flag_name(flag)
    if name in RESERVED:
      raise ValueError(f'--extra_flag {flag!r}: --{name} is set by the sweep itself.')
    if name not in _specs():
      raise ValueError(f'--extra_flag {flag!r}: --{name} is not a flag of run_tff.')


def parse_run_flags(arguments: Sequence[str]) -> dict[str, Any]:
  """Flag name -> typed value of the flags in `arguments` (flagfiles expanded).

  Raises:
    ValueError: an unreadable flagfile, an unknown flag, or a value its
      setting's kind does not parse (`flag --rounds=abc: ...`).
  """
  values = {}
  for argument in _expanded(arguments):
    name, _, text = argument.lstrip('-').partition('=')
    has_value = '=' in argument
    if name not in _specs() and name.startswith('no') and not has_value:
      name, text, has_value = name[2:], 'false', True
    spec = _specs().get(name)
    if spec is None:
      raise ValueError(f'Unknown run_tff flag --{name}.')
    if not has_value:
      if spec.kind != 'bool':
        raise ValueError(f'flag --{name} needs a value.')
      text = 'true'
    try:
      values[name] = _parse_value(spec.kind, text)
    except ValueError as e:
      raise ValueError(f'flag --{name}={text}: {e}') from None
  return values


def _expanded(arguments: Sequence[str]) -> list[str]:
  """`arguments` with each `--flagfile=F` replaced by F's flag lines."""
  out = []
  for argument in arguments:
    if not argument.startswith('--flagfile='):
      out.append(argument)
      continue
    path = argument.split('=', 1)[1]
    try:
      with open(path) as f:
        lines = [line.strip() for line in f]
    except OSError as e:
      raise ValueError(f'Cannot read flagfile {path!r}: {e.strerror or e}.') from None
    out.extend(_expanded([line for line in lines if line and not line.startswith('#')]))
  return out


def _parse_value(kind: str, text: str) -> Any:
  if kind == 'int':
    return int(text)
  if kind == 'float':
    return float(text)
  if kind == 'bool':
    if text.lower() not in _TRUE + _FALSE:
      raise ValueError(f'not a boolean (one of {", ".join(_TRUE + _FALSE)})')
    return text.lower() in _TRUE
  if kind.endswith('_list'):  # As absl's DEFINE_list gives them: the settings' checks convert.
    return [item.strip() for item in text.split(',')] if text else []
  return text


def check_runs(base_flagfile: str, configs: Sequence[Mapping[str, str]],
               extra_flags: Sequence[str]) -> None:
  """Parses and builds each run's configuration as run_tff does.

  Args:
    base_flagfile: every run's `--flagfile`.
    configs: each run's grid values (flag name -> value).
    extra_flags: the flags every run gets after its grid values.

  Raises:
    ValueError: `Run <run name>: <the one-line error>` for the first bad run.
  """
  for params in configs:
    try:
      values = parse_run_flags(run_arguments(base_flagfile, params, extra_flags))
      values['output_dir'] = _PLACEHOLDER_OUTPUT_DIR
      experiment_config.ExperimentConfig.from_flat(values)
    except ValueError as e:
      raise ValueError(f'Run {run_name(params)}: {str(e).splitlines()[0]}') from None


def planned_rounds(base_flagfile: str, params: Mapping[str, Any],
                   extra_flags: Sequence[str]) -> int:
  """The `--rounds` a run will have (its setting's default if none is given)."""
  values = parse_run_flags(run_arguments(base_flagfile, params, extra_flags))
  return values.get('rounds', _specs()['rounds'].default)
