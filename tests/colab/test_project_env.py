"""colab/project_env.py: the Colab set-up (environment, a kernel in it, cells
routed there). The kernel parts run here against this interpreter; only uv's
download of a managed Python 3.11 needs Colab's network."""

import importlib.metadata
import os
import re
import sys

import pytest
from IPython.core.interactiveshell import InteractiveShell

import helpers

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO_ROOT, 'colab'))
import project_env  # pylint: disable=g-import-not-at-top,wrong-import-position


def _requirement_lines(path):
  with open(path) as f:
    return [line.strip() for line in f if line.strip() and not line.startswith('#')]


def test_install_commands_create_a_managed_3_11_env_and_install_like_make_install():
  commands = project_env.install_commands('/repo', '/env', gpu=False, uv=('uv',))
  assert commands == [
      ['uv', 'venv', '--python', '3.11', '--python-preference', 'only-managed', '--seed', '/env'],
      ['uv', 'pip', 'install', '--python', '/env/bin/python', '-r', '/repo/requirements/lock.txt'],
      ['uv', 'pip', 'install', '--python', '/env/bin/python', '--no-deps', '-r',
       '/repo/requirements/no-deps.txt'],
      ['uv', 'pip', 'install', '--python', '/env/bin/python', '--no-deps', '-e', '/repo'],
  ]
  with_gpu = project_env.install_commands('/repo', '/env', gpu=True, uv=('uv',))
  assert with_gpu[:-1] == commands
  assert with_gpu[-1][-2:] == ['-r', '/repo/requirements/gpu.txt']
  assert project_env.install_commands('/repo', '/env', gpu=False, create=False, uv=('uv',)) == (
      commands[1:])


def test_gpu_requirements_are_tensorflows_cuda_extra_without_tensorrt():
  extra = set()
  for requirement in importlib.metadata.requires('tensorflow'):
    if "extra == 'and-cuda'" in requirement or 'extra == "and-cuda"' in requirement:
      name, version = re.match(r'([\w.-]+)\s*\(?==([\w.]+)\)?', requirement).groups()
      extra.add(f'{name}=={version}')
  assert 'tensorrt==8.5.3.1' in extra
  pinned = set(_requirement_lines(os.path.join(REPO_ROOT, 'requirements', 'gpu.txt')))
  assert pinned == extra - {'tensorrt==8.5.3.1'}


def test_notebook_kernel_packages_are_in_the_lock():
  lock = {line.split('==')[0].lower() for line in
          _requirement_lines(os.path.join(REPO_ROOT, 'requirements', 'lock.txt'))}
  assert {'ipykernel', 'nbclient', 'nbformat', 'jupyter_client', 'nest-asyncio'} <= lock


def test_kernel_environ_activates_the_env_and_finds_its_cuda_libraries(tmp_path):
  nvidia = tmp_path / 'lib' / 'python3.11' / 'site-packages' / 'nvidia'
  for name in ('cudnn', 'cublas', 'cuda_nvcc'):
    (nvidia / name / 'lib').mkdir(parents=True)
  (nvidia / 'empty').mkdir()
  env = project_env.kernel_environ(str(tmp_path), {
      'PYTHONPATH': '/env/python', 'UV_SYSTEM_PYTHON': 'true', 'UV_CONSTRAINT': 'c.txt',
      'MPLBACKEND': 'module://x', 'LD_LIBRARY_PATH': '/usr/lib64-nvidia', 'HOME': '/root',
      'PATH': '/usr/bin'})
  assert env == {
      'HOME': '/root', 'VIRTUAL_ENV': str(tmp_path),
      'LD_LIBRARY_PATH': os.pathsep.join(
          [str(nvidia / n / 'lib') for n in ('cublas', 'cuda_nvcc', 'cudnn')] +
          ['/usr/lib64-nvidia']),
      'XLA_FLAGS': f'--xla_gpu_cuda_data_dir={nvidia / "cuda_nvcc"}',
      'PATH': os.pathsep.join([str(tmp_path / 'bin'), str(nvidia / 'cuda_nvcc' / 'bin'),
                               '/usr/bin'])}
  cpu_only = project_env.kernel_environ(str(tmp_path / 'none'), {'PATH': '/usr/bin'})
  assert cpu_only == {'VIRTUAL_ENV': str(tmp_path / 'none'),
                      'PATH': os.pathsep.join([str(tmp_path / 'none' / 'bin'), '/usr/bin'])}


def test_install_runs_once_until_the_requirements_change(tmp_path, monkeypatch):
  repo = tmp_path / 'repo'
  (repo / 'requirements').mkdir(parents=True)
  for name in ('lock.txt', 'no-deps.txt', 'gpu.txt'):
    (repo / 'requirements' / name).write_text(f'# {name}\n')
  (repo / 'setup.py').write_text('')
  venv = tmp_path / 'env'
  ran = []

  def fake_run(command, env):
    assert 'PYTHONPATH' not in env
    ran.append(command)
    if command[3:4] == ['venv']:
      assert not venv.exists()  # Created once, then reused.
      (venv / 'bin').mkdir(parents=True)
      (venv / 'bin' / 'python').write_text('')

  monkeypatch.setenv('PYTHONPATH', '/colab/python')
  monkeypatch.setattr(project_env, '_run', fake_run)
  python = project_env.install(str(repo), str(venv), gpu=False)
  assert python == str(venv / 'bin' / 'python')
  uv_installs = lambda: [c for c in ran if c[1:5] == ['-m', 'uv', 'pip', 'install']]
  assert len(uv_installs()) == 3
  ran.clear()
  project_env.install(str(repo), str(venv), gpu=False)
  assert ran == []  # Up to date.
  (repo / 'requirements' / 'lock.txt').write_text('numpy==1.25.2\n')
  project_env.install(str(repo), str(venv), gpu=False)
  assert len(uv_installs()) == 3
  ran.clear()
  project_env.install(str(repo), str(venv), gpu=True)  # GPU libraries: installs again.
  assert ran[-1][-2:] == ['-r', str(repo / 'requirements' / 'gpu.txt')]


@pytest.fixture(scope='module')
def kernel():
  kernel = project_env.ProjectKernel(sys.executable, cwd=REPO_ROOT)
  yield kernel
  kernel.shutdown()


def _pid_of(kernel, capsys):
  capsys.readouterr()
  kernel.run_cell('import os; print(os.getpid())')
  return int(capsys.readouterr().out.strip())


def test_kernel_keeps_state_and_relays_text_displays_and_errors(kernel, capsys, monkeypatch):
  published = []
  monkeypatch.setattr('IPython.display.publish_display_data',
                      lambda data, metadata=None: published.append(data))
  kernel.run_cell('import sys\nanswer = 41 + 1\nprint("to stdout")\nprint("to stderr", file=sys.stderr)')
  kernel.run_cell('from IPython.display import Markdown, display\n'
                  'display(Markdown("**shown**"))\nanswer')
  captured = capsys.readouterr()
  assert captured.out == 'to stdout\n' and captured.err == 'to stderr\n'
  assert published[0]['text/markdown'] == '**shown**'
  assert published[1]['text/plain'] == '42'  # The cell's value; `answer` persisted.
  with pytest.raises(project_env.CellError, match='ZeroDivisionError'):
    kernel.run_cell('1 / 0')
  assert 'ZeroDivisionError' in capsys.readouterr().err  # The kernel's traceback.
  assert _pid_of(kernel, capsys) != os.getpid()


def test_kernel_runs_in_the_given_directory_and_sees_the_project(kernel, capsys):
  kernel.run_cell('import os, antigan_tf; print(os.getcwd())')
  assert capsys.readouterr().out.strip() == REPO_ROOT


@pytest.fixture
def routed_shell(kernel):
  """An IPython shell whose cells are routed to `kernel`."""
  shell = InteractiveShell.instance()
  try:
    project_env.route_cells(kernel, shell)
    yield shell
  finally:
    shell.input_transformers_cleanup[:] = [
        t for t in shell.input_transformers_cleanup if not getattr(t, 'antigan_tf', False)]
    InteractiveShell.clear_instance()


def test_routed_cells_run_in_the_kernel(kernel, routed_shell, capsys):
  shell = routed_shell
  project_env.route_cells(kernel, shell)  # Again: still one transformer.
  assert sum(getattr(t, 'antigan_tf', False) for t in shell.input_transformers_cleanup) == 1
  result = shell.run_cell('routed = "yes"\nprint(routed)')
  assert result.success
  assert 'routed' not in shell.user_ns  # Defined in the kernel, not here.
  assert capsys.readouterr().out == 'yes\n'
  failed = shell.run_cell('undefined_name')
  assert isinstance(failed.error_in_exec, project_env.CellError)


def test_a_kernel_that_dies_is_reported_not_waited_for(capsys):
  kernel = project_env.ProjectKernel(sys.executable, cwd=REPO_ROOT)
  try:
    with pytest.raises(project_env.KernelDiedError, match='re-run the set-up cell'):
      kernel.run_cell('import os\nos._exit(3)')
    with pytest.raises(project_env.KernelDiedError):
      kernel.run_cell('1 + 1')
  finally:
    kernel.shutdown()


def test_set_up_cells_are_not_routed_so_they_can_replace_a_dead_kernel(routed_shell):
  result = routed_shell.run_cell('project_env = None\nif False: project_env.setup("x")')
  assert result.success and 'project_env' in routed_shell.user_ns  # Ran here.
  error = project_env.CellError('NameError: x')
  assert error._render_traceback_() == [  # One traceback: the kernel's.
      "NameError: x (in the project's kernel; its traceback is above)"]


def test_shutdown_stops_the_kernel_process(capsys):
  kernel = project_env.ProjectKernel(sys.executable, cwd=REPO_ROOT)
  pid = _pid_of(kernel, capsys)
  assert kernel.is_alive()
  kernel.shutdown()
  kernel.shutdown()  # Safe twice.
  assert helpers.wait_until_gone(pid) and not kernel.is_alive()


def test_a_kernel_that_cannot_start_is_a_setup_error_with_its_log(tmp_path):
  fake = tmp_path / 'python'
  fake.write_text('#!/bin/sh\necho "no ipykernel here" >&2\nexit 3\n')
  fake.chmod(0o755)
  with pytest.raises(project_env.SetupError, match='(?s)did not start.*no ipykernel here'):
    project_env.ProjectKernel(str(fake), cwd=str(tmp_path), startup_timeout=10)


def test_relaying_works_from_inside_a_running_kernel(kernel, capsys):
  # As on Colab: run_cell is called by a kernel whose event loop is running.
  kernel.run_cell(
      'import sys\n'
      f'sys.path.insert(0, {os.path.join(REPO_ROOT, "colab")!r})\n'
      'import project_env\n'
      f'inner = project_env.ProjectKernel(sys.executable, cwd={REPO_ROOT!r})\n'
      'try:\n'
      '  inner.run_cell("import os; print(6 * 7, os.getppid() == %d)" % os.getpid())\n'
      'finally:\n'
      '  inner.shutdown()\n')
  assert capsys.readouterr().out == '42 True\n'


def test_run_shows_the_commands_output_and_fails_on_error(capsys):
  project_env._run([sys.executable, '-c', 'import sys; print("resolved"); '
                    'print("warning", file=sys.stderr)'], dict(os.environ))
  out = capsys.readouterr().out
  assert out.startswith('$ ') and 'resolved\n' in out and 'warning\n' in out
  with pytest.raises(project_env.SetupError, match='status 4'):
    project_env._run([sys.executable, '-c', 'raise SystemExit(4)'], dict(os.environ))


def test_sent_variables_are_the_named_literals_of_the_notebook():
  namespace = {'ROUNDS': 3, 'OUTPUT_DIR': 'runs/x', 'SIZES': {'tiny': [1, 2.5]},
               'images': __import__('numpy').zeros(2), 'unused': 1}
  code = project_env.sent_variables(['ROUNDS', 'OUTPUT_DIR', 'SIZES'], namespace)
  assert code == "ROUNDS = 3\nOUTPUT_DIR = 'runs/x'\nSIZES = {'tiny': [1, 2.5]}\n"
  assert project_env.sent_variables([], namespace) == ''
  with pytest.raises(TypeError, match='images is a ndarray; only literals.*write arrays to a file'):
    project_env.sent_variables(['images'], namespace)
  with pytest.raises(NameError, match='MISSING is not defined in this notebook'):
    project_env.sent_variables(['MISSING'], namespace)


def test_the_federated_python_is_the_variable_this_python_or_the_3_11_environment(
    tmp_path, monkeypatch):
  installed = []
  monkeypatch.setattr(project_env, 'install', lambda repo, venv, gpu=None: (
      installed.append((repo, venv)) or f'{venv}/bin/python'))
  monkeypatch.setenv(project_env.FEDERATED_PYTHON_VARIABLE, sys.executable)
  assert project_env.federated_python('/repo', '/env') == sys.executable
  monkeypatch.setenv(project_env.FEDERATED_PYTHON_VARIABLE, str(tmp_path / 'nothing'))
  with pytest.raises(project_env.SetupError, match='not an executable Python'):
    project_env.federated_python('/repo', '/env')
  monkeypatch.delenv(project_env.FEDERATED_PYTHON_VARIABLE)
  monkeypatch.setattr(project_env.importlib.util, 'find_spec', lambda name: object())
  assert project_env.federated_python('/repo', '/env') == sys.executable  # It has TFF.
  assert installed == []
  monkeypatch.setattr(project_env.importlib.util, 'find_spec', lambda name: None)
  assert project_env.federated_python('/repo', '/env') == '/env/bin/python'  # Colab.
  assert installed == [('/repo', '/env')]


def test_federated_cells_run_in_a_kernel_of_their_own_with_the_named_literals(
    tmp_path, monkeypatch, capsys):
  monkeypatch.setenv(project_env.FEDERATED_PYTHON_VARIABLE, sys.executable)
  monkeypatch.chdir(tmp_path)
  shell = InteractiveShell.instance()
  try:
    project_env.enable_federated_cells(REPO_ROOT, shell=shell)
    assert 'Cells that start with %%federated run in a Python with TFF' in capsys.readouterr().out
    shell.user_ns.update(ROUNDS=3, images=[0.5])
    result = shell.run_cell('%%federated ROUNDS\n'
                            'import os\nstate = ROUNDS * 2\nprint(state, os.getpid(), os.getcwd())')
    assert result.success
    out = capsys.readouterr().out.splitlines()
    assert out[0] == '%%federated cells run in Python ' + sys.version.split()[0] + ' with TFF 0.87.0.'
    value, pid, cwd = out[1].split()
    assert value == '6' and int(pid) != os.getpid() and cwd == str(tmp_path)
    assert 'state' not in shell.user_ns  # Defined there, not here.
    assert shell.run_cell('%%federated\nprint(state + 1)').success  # Its state persists.
    assert capsys.readouterr().out == '7\n'
    failed = shell.run_cell('%%federated\nimages')  # Not named: not sent.
    assert isinstance(failed.error_in_exec, project_env.CellError)
    assert 'NameError' in str(failed.error_in_exec)
    kernel = project_env.federated_kernel(REPO_ROOT)
    assert kernel is project_env._federated_kernel  # One kernel for every such cell.
  finally:
    if project_env._federated_kernel is not None:
      project_env._federated_kernel.shutdown()
      project_env._federated_kernel = None
    InteractiveShell.clear_instance()
