"""`import antigan_tf` (and its plain-TF subpackages) must not import TFF."""

import os
import subprocess
import sys

import pytest


def test_import_does_not_load_tff():
  code = (
      'import sys, antigan_tf, antigan_tf.data, antigan_tf.models\n'
      'loaded = sorted(m for m in sys.modules if m.startswith("tensorflow_federated"))\n'
      'print("TFF", len(loaded))\n'
      'print("VERSION", antigan_tf.__version__)\n'
  )
  out = subprocess.run(
      [sys.executable, '-c', code], capture_output=True, text=True, check=True, timeout=300
  ).stdout
  assert 'TFF 0' in out
  assert 'VERSION 0.' in out


@pytest.mark.tff
def test_federated_package_does_load_tff():
  out = subprocess.run(
      [sys.executable, '-c',
       'import sys, antigan_tf.federated.runtime; print("tensorflow_federated" in sys.modules)'],
      capture_output=True, text=True, check=True, timeout=300,
  ).stdout
  assert out.strip().endswith('True')


# Run first in a subprocess: TFF looks uninstalled (find_spec returns None).
_WITHOUT_TFF = 'import sys\nsys.modules["tensorflow_federated"] = None\n'
# The modules that need the federated stack: the package, and the sweeps.
_FEDERATED_MODULES = ('antigan_tf.federated', 'antigan_tf.experiments.sweep',
                      'antigan_tf.experiments.run_flags')


def _package_modules():
  import pkgutil  # pylint: disable=g-import-not-at-top
  import antigan_tf  # pylint: disable=g-import-not-at-top
  return sorted(m.name for m in pkgutil.walk_packages(antigan_tf.__path__, 'antigan_tf.')
                if not m.name.startswith(_FEDERATED_MODULES))


def _run(code):
  return subprocess.run([sys.executable], input=code, capture_output=True, text=True,
                        check=False, timeout=300)


def _assert_names_the_extra_and_the_pythons(message):
  assert 'antigan_tf.federated needs TensorFlow Federated 0.87.0' in message
  assert "'federated' extra: Python 3.9-3.11" in message
  assert 'docs/install.md' in message


def test_the_plain_tf_part_imports_without_tff():
  modules = _package_modules()
  assert 'antigan_tf.experiments.plots' in modules and 'antigan_tf.defense.defender' in modules
  result = _run(_WITHOUT_TFF + ''.join(f'import {m}\n' for m in modules) + 'print("ok")\n')
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip() == 'ok'


@pytest.mark.parametrize('statement', [
    'import antigan_tf.federated', 'from antigan_tf.federated import config',
    'from antigan_tf.experiments import run_sweep'])
def test_the_federated_part_without_tff_is_one_error_naming_the_extra(statement):
  result = _run(_WITHOUT_TFF + 'try:\n'
                f'  {statement}\n'
                'except ModuleNotFoundError as e:\n'
                '  print(type(e).__name__, e.name)\n'
                '  print(e)\n')
  assert result.returncode == 0, result.stderr[-3000:]
  kind, message = result.stdout.split('\n', 1)
  assert kind == 'FederatedStackMissing tensorflow_federated'
  _assert_names_the_extra_and_the_pythons(message)


def test_the_federated_package_imports_exactly_where_tff_is_installed():
  from antigan_tf.utils import stacks  # pylint: disable=g-import-not-at-top
  result = _run('import antigan_tf.federated\n')
  if stacks.has_tff():
    assert result.returncode == 0, result.stderr[-3000:]
  else:  # The modern stack: no TFF at all.
    assert result.returncode == 1
    assert 'FederatedStackMissing' in result.stderr
    _assert_names_the_extra_and_the_pythons(result.stderr)
    if sys.version_info >= (3, 12):
      assert 'on which TFF 0.87.0 does not install' in result.stderr


@pytest.mark.parametrize('binary', ['run_tff', 'run_sweep'])
def test_the_federated_binaries_without_tff_print_one_line(binary, repo_root):
  script = os.path.join(repo_root, 'bin', binary)
  flags = ['--rounds=1'] if binary == 'run_tff' else ['--output_dir=x', '--base_flagfile=y']
  result = _run(_WITHOUT_TFF + f'import runpy\nsys.argv = {[binary, *flags]!r}\n'
                f'runpy.run_path({script!r}, run_name="__main__")\n')
  assert result.returncode == 2, result.stderr[-3000:]
  errors = [line for line in result.stderr.splitlines() if line.startswith(f'{binary}: error:')]
  assert len(errors) == 1 and 'Traceback' not in result.stderr
  _assert_names_the_extra_and_the_pythons(errors[0])
