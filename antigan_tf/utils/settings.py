"""Settings declared once: a frozen-dataclass field with its default, help and check.

A configuration is a frozen dataclass whose fields are `setting(...)`s (and
`nested(...)` configurations). Everything else is derived from it:

  * the check runs when the dataclass is built (`check_settings` in
    `__post_init__`), so a configuration object is always valid and the code
    below the entry point trusts it;
  * `flag_specs` lists the command-line flags (name, kind, default, help,
    choices, and the absl call that defines each), which the binaries in
    `bin/` define and read: the library never touches absl flags;
  * `from_flat` builds a configuration from flag-named values and names the
    flag, as the user typed it, in any error;
  * `to_flat` gives the flag-named values back (hparams records, sweeps).

A nested configuration may put a prefix on its flags: `DefenderConfig.lambda1`
is `--defender_lambda1` inside an experiment and `--lambda1` in
`bin/train_defender`. Plain Python, no TensorFlow.
"""

import collections
import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Any, Optional

_HELP = 'help'
_CHECK = 'check'
_CHOICES = 'choices'
_PREFIX = 'flag_prefix'
_RESUMABLE = 'resumable'
_HELP_PREFIX = 'help_prefix'


class SettingError(ValueError):
  """A setting has a bad value; `name` is the setting (or flag) it names."""

  def __init__(self, name: str, problem: str, *, field: Optional[str] = None,
               renamed: bool = False):
    super().__init__(f'{name} {problem}')
    self.name = name
    self.problem = problem
    self.field = field
    self.renamed = renamed

  def as_flag(self, prefix: str) -> 'SettingError':
    """The same error naming the flag `--<prefix><field>` (once)."""
    if self.renamed or self.field is None:
      return self
    return SettingError(f'--{prefix}{self.field}', self.problem, field=self.field, renamed=True)


def setting(default: Any, help: str, check: Optional[Callable[[Any], Any]] = None, *,  # pylint: disable=redefined-builtin
            choices: Optional[tuple[str, ...]] = None, resumable: bool = False) -> Any:
  """A dataclass field declared once.

  Args:
    default: the default value (immutable).
    help: one sentence or two for --help and the docs.
    check: `value -> normalised value`, raising ValueError with the problem
      (see `antigan_tf.utils.checks`); None: no check.
    choices: the allowed strings of a string setting (an enum flag).
    resumable: a run may be resumed with another value (it does not change
      what the run computes: where it runs, what is measured afterwards).

  Returns:
    A `dataclasses.field`.
  """
  return dataclasses.field(
      default=default,
      metadata={_HELP: help, _CHECK: check, _CHOICES: choices, _RESUMABLE: resumable})


def nested(config_cls: type, *, flag_prefix: str = '', help_prefix: str = '') -> Any:
  """A field holding another configuration.

  Args:
    config_cls: the nested configuration's dataclass.
    flag_prefix: put before the names of its flags.
    help_prefix: put before their help texts (e.g. when they apply).

  Returns:
    A `dataclasses.field`.
  """
  return dataclasses.field(default_factory=config_cls,
                           metadata={_PREFIX: flag_prefix, _HELP_PREFIX: help_prefix})


def _is_nested(field: dataclasses.Field) -> bool:
  return _PREFIX in field.metadata


def help_text(config_cls: type, name: str) -> str:
  """The help text of setting `name` of `config_cls`."""
  return {f.name: f.metadata.get(_HELP, '') for f in dataclasses.fields(config_cls)}[name]


def check_settings(config) -> None:
  """Checks and normalises every setting of `config` in place (for `__post_init__`).

  Raises:
    SettingError: naming the first bad setting as `ClassName.field`.
  """
  owner = type(config).__name__
  for field in dataclasses.fields(config):
    check = field.metadata.get(_CHECK)
    if check is None:
      continue
    try:
      value = check(getattr(config, field.name))
    except SettingError:
      raise
    except ValueError as e:
      raise SettingError(f'{owner}.{field.name}', str(e), field=field.name) from None
    object.__setattr__(config, field.name, value)


@dataclasses.dataclass(frozen=True)
class FlagSpec:
  """One command-line flag derived from a setting.

  Attributes:
    name: the flag's name, without dashes.
    kind: 'int', 'float', 'str', 'enum', 'bool', 'int_list' or 'str_list'.
    default: its default value.
    help: its help text.
    choices: the allowed values of an 'enum' flag.
  """

  name: str
  kind: str
  default: Any
  help: str
  choices: Optional[tuple[str, ...]] = None

  @property
  def absl_define(self) -> str:
    """The name of the `absl.flags` function that defines this flag."""
    return {'int': 'DEFINE_integer', 'float': 'DEFINE_float', 'str': 'DEFINE_string',
            'bool': 'DEFINE_boolean', 'enum': 'DEFINE_enum', 'int_list': 'DEFINE_list',
            'str_list': 'DEFINE_list'}[self.kind]

  @property
  def absl_arguments(self) -> dict[str, Any]:
    """Keyword arguments of `absl_define` (list defaults as strings)."""
    arguments = {'name': self.name, 'help': self.help, 'default': self.default}
    if self.kind.endswith('_list'):
      arguments['default'] = [str(v) for v in self.default]
    if self.kind == 'enum':
      arguments['enum_values'] = list(self.choices)
    return arguments


_KINDS = {int: 'int', float: 'float', str: 'str', bool: 'bool'}


def _kind(annotation) -> str:
  args = [a for a in typing.get_args(annotation) if a is not type(None)]
  if typing.get_origin(annotation) is typing.Union and len(args) == 1:
    return _kind(args[0])
  if typing.get_origin(annotation) is tuple:
    return f'{_KINDS[args[0]]}_list'
  return _KINDS[annotation]


def flag_specs(config_cls: type, prefix: str = '', help_prefix: str = '') -> list[FlagSpec]:
  """The flags of `config_cls` and its nested configurations, in field order."""
  hints = typing.get_type_hints(config_cls)
  specs = []
  for field in dataclasses.fields(config_cls):
    if _is_nested(field):
      specs.extend(flag_specs(hints[field.name], prefix + field.metadata[_PREFIX],
                              help_prefix + field.metadata[_HELP_PREFIX]))
      continue
    choices = field.metadata.get(_CHOICES)
    kind = _kind(hints[field.name])
    if choices is not None and kind == 'str':
      kind = 'enum'
    specs.append(FlagSpec(f'{prefix}{field.name}', kind, field.default,
                          help_prefix + field.metadata.get(_HELP, ''), choices))
  return specs


def flag_names(config_cls: type, prefix: str = '') -> frozenset[str]:
  """The names of `flag_specs`."""
  return frozenset(spec.name for spec in flag_specs(config_cls, prefix))


def from_flat(config_cls: type, values: Mapping[str, Any], prefix: str = ''):
  """Builds `config_cls` from flag-named values (missing ones take their default).

  Args:
    config_cls: a configuration dataclass.
    values: flag name (without dashes) -> value.
    prefix: the prefix of `config_cls`'s flags.

  Returns:
    The (checked) configuration.

  Raises:
    SettingError: a bad value, naming its flag (`--name`), or unknown names.
  """
  unknown = sorted(set(values) - flag_names(config_cls, prefix))
  if unknown:
    raise SettingError('Unknown setting(s):', ', '.join(unknown) + '.')
  return _build(config_cls, values, prefix)


def _build(config_cls: type, values: Mapping[str, Any], prefix: str):
  hints = typing.get_type_hints(config_cls)
  kwargs = {}
  for field in dataclasses.fields(config_cls):
    if _is_nested(field):
      kwargs[field.name] = _build(hints[field.name], values, prefix + field.metadata[_PREFIX])
    elif f'{prefix}{field.name}' in values:
      kwargs[field.name] = values[f'{prefix}{field.name}']
  try:
    return config_cls(**kwargs)
  except SettingError as e:
    raise e.as_flag(prefix) from None


def resumable_names(config_cls: type, prefix: str = '') -> frozenset[str]:
  """The flag names of the settings declared `resumable`."""
  hints = typing.get_type_hints(config_cls)
  names = set()
  for field in dataclasses.fields(config_cls):
    if _is_nested(field):
      names |= resumable_names(hints[field.name], prefix + field.metadata[_PREFIX])
    elif field.metadata.get(_RESUMABLE):
      names.add(f'{prefix}{field.name}')
  return frozenset(names)


def to_flat(config, prefix: str = '') -> 'collections.OrderedDict[str, Any]':
  """Flag name -> value of every setting of `config` (nested ones included)."""
  flat = collections.OrderedDict()
  for field in dataclasses.fields(config):
    value = getattr(config, field.name)
    if _is_nested(field):
      flat.update(to_flat(value, prefix + field.metadata[_PREFIX]))
    else:
      flat[f'{prefix}{field.name}'] = value
  return flat
