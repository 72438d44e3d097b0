"""Settings declared once (`antigan_tf.utils.settings`) and the value checks."""

import dataclasses
from typing import Optional

import numpy as np
import pytest

from antigan_tf.utils import checks
from antigan_tf.utils import settings
from antigan_tf.utils.settings import SettingError
from antigan_tf.utils.settings import setting


@dataclasses.dataclass(frozen=True)
class _Inner:
  rate: float = setting(0.5, 'A rate.', checks.number(0, 1))
  mode: str = setting('a', 'A mode.', checks.one_of(('a', 'b')), choices=('a', 'b'))

  def __post_init__(self):
    settings.check_settings(self)


@dataclasses.dataclass(frozen=True)
class _Outer:
  steps: int = setting(3, 'Steps.', checks.integer(1), resumable=True)
  cap: Optional[int] = setting(None, 'A cap.', checks.optional(checks.integer(1)))
  names: tuple[str, ...] = setting((), 'Names.', checks.each(checks.string_item))
  classes: tuple[int, ...] = setting((0, 1), 'Classes.', checks.each(checks.int_item))
  on: bool = setting(True, 'On.', checks.boolean)
  inner: _Inner = settings.nested(_Inner, flag_prefix='inner_', help_prefix='Inner: ')

  def __post_init__(self):
    settings.check_settings(self)


def test_flag_specs_follow_the_fields_types_defaults_and_help():
  specs = {s.name: s for s in settings.flag_specs(_Outer)}
  assert list(specs) == ['steps', 'cap', 'names', 'classes', 'on', 'inner_rate', 'inner_mode']
  assert [specs[n].kind for n in specs] == [
      'int', 'int', 'str_list', 'int_list', 'bool', 'float', 'enum']
  assert specs['cap'].default is None and specs['classes'].default == (0, 1)
  assert specs['inner_mode'].choices == ('a', 'b')
  assert specs['inner_rate'].help == 'Inner: A rate.'
  assert settings.resumable_names(_Outer) == frozenset({'steps'})
  # How a binary defines each flag with absl (the library itself never does).
  assert specs['inner_mode'].absl_define == 'DEFINE_enum'
  assert specs['inner_mode'].absl_arguments == {
      'name': 'inner_mode', 'help': 'Inner: A mode.', 'default': 'a', 'enum_values': ['a', 'b']}
  assert specs['classes'].absl_define == 'DEFINE_list'
  assert specs['classes'].absl_arguments['default'] == ['0', '1']
  assert specs['on'].absl_define == 'DEFINE_boolean'


def test_building_checks_and_normalises_every_field():
  config = _Outer(steps=np.int64(4), classes=('2', '3'), names='x, y')
  assert type(config.steps) is int and config.steps == 4
  assert config.classes == (2, 3) and config.names == ('x', 'y')
  assert _Inner(rate=1).rate == 1.0 and isinstance(_Inner(rate=1).rate, float)
  with pytest.raises(SettingError, match=r'^_Outer\.steps must be an integer >= 1, got 0\.$'):
    _Outer(steps=0)
  with pytest.raises(SettingError, match=r'^_Inner\.mode must be one of a, b; got .c.\.$'):
    _Inner(mode='c')


def test_from_flat_names_the_flag_and_to_flat_inverts_it():
  config = settings.from_flat(_Outer, {'steps': 5, 'inner_rate': 0.25})
  assert config.steps == 5 and config.inner.rate == 0.25 and config.inner.mode == 'a'
  flat = settings.to_flat(config)
  assert list(flat) == [s.name for s in settings.flag_specs(_Outer)]
  assert settings.from_flat(_Outer, flat) == config
  with pytest.raises(SettingError, match=r'^--inner_rate must be finite and in \[0, 1\], got 2\.$'):
    settings.from_flat(_Outer, {'inner_rate': 2})
  with pytest.raises(SettingError, match=r'^--cap must be an integer >= 1, got 0 \(or unset\)\.$'):
    settings.from_flat(_Outer, {'cap': 0})
  with pytest.raises(SettingError, match='Unknown setting.*rate, stepz'):
    settings.from_flat(_Outer, {'stepz': 1, 'rate': 1})


@pytest.mark.parametrize(
    'check, value, problem',
    [
        (checks.integer(1), True, 'must be an integer >= 1, got True.'),
        (checks.integer(0, 9), 10, 'must be an integer in [0, 9], got 10.'),
        (checks.number(0, open_minimum=True), 0, 'must be finite and > 0, got 0.'),
        (checks.number(0, 1, open_maximum=True), 1.0, 'must be finite and in [0, 1), got 1.0.'),
        (checks.number(), float('inf'), 'must be finite, got inf.'),
        (checks.number(), '1', "must be a number, got '1'."),
        (checks.text(required=True), '', "must be a non-empty string, got ''."),
        (checks.boolean, 1, 'must be true or false, got 1.'),
        (checks.each(checks.int_item), ('1', 'x'), "has a bad item 'x': must be an integer, got 'x'."),
        (checks.each(checks.string_item, unique=True), ('a', 'a'),
         "must not repeat an item, got ['a', 'a']."),
        (checks.each(checks.string_item, choices=('a',)), 'a,b',
         "has unknown item(s) ['b']; choose from a."),
    ],
)
def test_checks_say_what_is_wrong(check, value, problem):
  with pytest.raises(ValueError) as info:
    check(value)
  assert str(info.value) == problem


def test_argument_checks_name_the_argument():
  with pytest.raises(ValueError, match=r'^`steps` must be an integer >= 0, got -1\.$'):
    checks.check_int(-1, 'steps', 0)
  with pytest.raises(ValueError, match=r'^`lr` must be finite and > 0, got nan\.$'):
    checks.check_positive_float(float('nan'), 'lr')
  assert checks.check_non_negative_float(np.float32(2), 'x') == 2.0
