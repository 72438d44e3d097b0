"""The package's shape: small functions and files, the import and flag rules.

Static checks of the source (no imports): they fail on the first change that
breaks a rule, naming the function, file or line.
"""

import ast
import os
import re

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PACKAGE = os.path.join(_ROOT, 'antigan_tf')
MAX_FUNCTION_LINES = 120
MAX_FILE_LINES = 600


def _sources(*roots):
  for root in roots:
    if os.path.isfile(os.path.join(_ROOT, root)):
      yield root, open(os.path.join(_ROOT, root), encoding='utf-8').read()
    for directory, _, names in os.walk(os.path.join(_ROOT, root)):
      for name in sorted(names):
        path = os.path.join(directory, name)
        if name.endswith('.py') or (root == 'bin' and '.' not in name):
          yield os.path.relpath(path, _ROOT), open(path, encoding='utf-8').read()


def test_no_function_longer_than_120_lines_and_no_file_longer_than_600():
  too_long = []
  for path, text in _sources('antigan_tf'):
    if text.count('\n') > MAX_FILE_LINES:
      too_long.append(f'{path}: {text.count(chr(10))} lines')
    for node in ast.walk(ast.parse(text)):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        length = node.end_lineno - node.lineno + 1
        if length > MAX_FUNCTION_LINES:
          too_long.append(f'{path}:{node.lineno} {node.name}: {length} lines')
  assert not too_long, too_long


def test_no_locals_capture():
  found = [f'{path}:{n}' for path, text in _sources('antigan_tf', 'bin')
           for n, line in enumerate(text.splitlines(), 1) if 'locals()' in line]
  assert not found, found


def _imported_modules(text):
  for node in ast.walk(ast.parse(text)):
    if isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module:
      yield node.module


def test_only_the_federated_subpackage_imports_tff():
  outside = [path for path, text in _sources('antigan_tf')
             if not path.startswith(os.path.join('antigan_tf', 'federated'))
             and any(m.startswith('tensorflow_federated') for m in _imported_modules(text))]
  assert not outside, outside


def test_only_bin_reads_absl_flags():
  readers = [f'{path}:{n}' for path, text in _sources('antigan_tf')
             for n, line in enumerate(text.splitlines(), 1)
             if re.search(r'\bflags\.FLAGS\b|^\s*FLAGS\s*=', line)]
  assert not readers, readers


# The floors of antigan_tf/, each importing only earlier ones. The metrics
# judge what the federation produced, and the federation's evaluation uses
# them, so they sit below `federated` here.
_FLOW = ('utils', 'layout', 'data', 'models', 'gan', 'defense', 'attack', 'metrics',
         'federated', 'experiments')
# Plain-Python settings and layout that any floor may read.
_ANYWHERE = ('antigan_tf.utils', 'antigan_tf.layout', 'antigan_tf.defense.config',
             'antigan_tf.federated.config')


@pytest.mark.parametrize('floor', _FLOW)
def test_no_floor_imports_a_later_one(floor):
  later = _FLOW[_FLOW.index(floor) + 1:]
  upward = []
  where = os.path.join('antigan_tf', floor + ('.py' if floor == 'layout' else ''))
  for path, text in _sources(where):
    for module in _imported_modules(text):
      if module.startswith(_ANYWHERE):
        continue
      if any(module == f'antigan_tf.{f}' or module.startswith(f'antigan_tf.{f}.')
             for f in later):
        upward.append(f'{path}: {module}')
  assert not upward, upward
