"""A run's flags read as run_tff reads them: flagfiles, the last value, kinds."""

import pytest

from antigan_tf.experiments import run_flags


def test_flagfiles_expand_and_the_last_value_wins(tmp_path):
  inner = tmp_path / 'inner.flags'
  inner.write_text('# a comment\n--rounds=3\n--attacks=gan,black_box\n\n--overwrite\n')
  outer = tmp_path / 'outer.flags'
  outer.write_text(f'--flagfile={inner}\n--client_learning_rate=0.1\n')
  arguments = run_flags.run_arguments(str(outer), {'rounds': '5'}, ['--nooverwrite'])
  assert arguments == [f'--flagfile={outer}', '--rounds=5', '--nooverwrite']
  values = run_flags.parse_run_flags(arguments)
  assert values == {'rounds': 5, 'attacks': ['gan', 'black_box'], 'overwrite': False,
                    'client_learning_rate': 0.1}
  assert run_flags.planned_rounds(str(outer), {}, []) == 3
  assert run_flags.planned_rounds(str(outer), {}, ['--rounds=7']) == 7


@pytest.mark.parametrize('arguments, message', [
    (['--rounds=abc'], r"^flag --rounds=abc: invalid literal for int\(\)"),
    (['--overwrite=maybe'], r'^flag --overwrite=maybe: not a boolean'),
    (['--rounds'], r'^flag --rounds needs a value'),
    (['--no_such_flag=1'], r'^Unknown run_tff flag --no_such_flag'),
    (['--flagfile=/nonexistent.flags'], r"^Cannot read flagfile '/nonexistent.flags'"),
])
def test_bad_flags_are_one_line_naming_the_flag(arguments, message):
  with pytest.raises(ValueError, match=message):
    run_flags.parse_run_flags(arguments)
