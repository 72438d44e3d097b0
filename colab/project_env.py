"""Colab set-up for the antigan_tf notebooks: a Python 3.11 environment and a kernel in it.

Colab's runtime is Python 3.12, while TensorFlow Federated 0.87 (and so the
federated part of this project) installs only on Python < 3.12 with
TensorFlow 2.14. The plain-TF part installs on Colab's own Python with a
plain `pip install`. Two ways, one per kind of notebook:

- `enable_federated_cells()` (integrating_the_defense): the notebook runs in
  Colab's kernel; only the cells that start with `%%federated` run in a
  Python 3.11 kernel with TFF (made once, as below), relaying their output.
  They share no variables with the notebook but the literals named on the
  magic's line: arrays go through files.
- `setup()` (quickstart, reproducing_the_paper: TFF from the first cell on)

1. creates a Python 3.11 virtual environment with uv, which fetches a managed
   3.11 interpreter, and installs the project's pinned set into it (the same
   three steps as `make install`, plus TensorFlow's CUDA 11 libraries when
   the runtime has a GPU);
2. starts an IPython kernel in that environment, in the repository; and
3. routes every later notebook cell to that kernel, relaying its output
   (text, progress, images, errors) to the notebook.

Where the running kernel already has the project (CI, a local checkout with
`make install`), the notebooks do not call `setup()`.

This module runs in Colab's own kernel, before the project is installed: it
uses the standard library, IPython and jupyter_client only.
"""

import ast
import atexit
import glob
import hashlib
import importlib.util
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
from typing import Optional

PYTHON_VERSION = '3.11'
KERNEL_NAME = 'antigan_tf-py311'
DEFAULT_VENV_DIR = '/content/antigan_tf-py311'
# The Python of the `%%federated` cells, where one with TFF exists already
# (CI runs the notebook on the modern stack with the TFF stack's Python here).
FEDERATED_PYTHON_VARIABLE = 'ANTIGAN_TF_FEDERATED_PYTHON'
# Pinned files of the repository, installed in this order (see docs/install.md).
LOCK_FILE = os.path.join('requirements', 'lock.txt')
NO_DEPS_FILE = os.path.join('requirements', 'no-deps.txt')
GPU_FILE = os.path.join('requirements', 'gpu.txt')
_STAMP = '.antigan_tf-installed'
# Colab's settings for its own Python that must not leak into the 3.11
# environment (uv would install into the system Python, or resolve against
# Colab's constraints; PYTHONPATH would shadow the environment's packages).
_LEAKY_VARIABLES = ('UV_SYSTEM_PYTHON', 'UV_CONSTRAINT', 'UV_BUILD_CONSTRAINT',
                    'UV_PYTHON', 'PYTHONPATH', 'PIP_CONSTRAINT', 'MPLBACKEND')


_kernel = None  # The kernel `setup()` started, reused when it is run again.
_federated_kernel = None  # The kernel of the `%%federated` cells, started on first use.
_POLL_SECONDS = 1.0
_DEAD_KERNEL = ('The project\'s kernel has died (for example killed for using too much '
                'memory); re-run the set-up cell to start a new one.')


class SetupError(RuntimeError):
  """Creating the environment or starting its kernel failed."""


class CellError(RuntimeError):
  """A cell raised an exception in the project's kernel (traceback shown above)."""

  def _render_traceback_(self):
    # IPython shows this instead of a second, local traceback.
    return [f'{self} (in the project\'s kernel; its traceback is above)']


class KernelDiedError(RuntimeError):
  """The project's kernel is gone (e.g. killed for using too much memory)."""


def clean_environ(base: Optional[dict] = None) -> dict:
  """`base` (default os.environ) without the variables of `_LEAKY_VARIABLES`."""
  env = dict(os.environ if base is None else base)
  for name in _LEAKY_VARIABLES:
    env.pop(name, None)
  return env


def has_gpu() -> bool:
  """Whether the machine has an NVIDIA GPU (`nvidia-smi -L` lists one)."""
  if shutil.which('nvidia-smi') is None:
    return False
  result = subprocess.run(['nvidia-smi', '-L'], capture_output=True, text=True, check=False)
  return result.returncode == 0 and 'GPU' in result.stdout


def venv_python(venv_dir: str) -> str:
  return os.path.join(venv_dir, 'bin', 'python')


def kernel_environ(venv_dir: str, base: Optional[dict] = None) -> dict:
  """The environment of the project's kernel and the tools it runs.

  `clean_environ(base)`, with the environment activated (its bin/ first on
  PATH, so `!pip` in a cell is its pip) and its pip-installed CUDA libraries
  (site-packages/nvidia/*/lib) first on LD_LIBRARY_PATH, as TensorFlow 2.14
  does not find them by itself; XLA gets its CUDA directory (libdevice, ptxas)
  from the same place rather than from the runtime's newer CUDA.
  """
  env = clean_environ(base)
  env['VIRTUAL_ENV'] = venv_dir
  paths = [os.path.join(venv_dir, 'bin')]
  nvidia = os.path.join(venv_dir, 'lib', f'python{PYTHON_VERSION}', 'site-packages', 'nvidia')
  libs = sorted(glob.glob(os.path.join(nvidia, '*', 'lib')))
  if libs:
    env['LD_LIBRARY_PATH'] = os.pathsep.join(
        [*libs, *filter(None, [env.get('LD_LIBRARY_PATH')])])
  nvcc = os.path.join(nvidia, 'cuda_nvcc')
  if os.path.isdir(nvcc):
    env['XLA_FLAGS'] = f'--xla_gpu_cuda_data_dir={nvcc}'
    paths.append(os.path.join(nvcc, 'bin'))
  env['PATH'] = os.pathsep.join([*paths, *filter(None, [env.get('PATH')])])
  return env


def install_commands(repo_dir: str, venv_dir: str, *, gpu: bool, create: bool = True,
                     uv: tuple[str, ...] = (sys.executable, '-m', 'uv')) -> list[list[str]]:
  """The commands that create and fill the environment, in order.

  Args:
    repo_dir: the repository checkout.
    venv_dir: where the environment goes.
    gpu: also install TensorFlow's CUDA libraries (requirements/gpu.txt).
    create: create the environment first (False: it exists).
    uv: how to call uv.

  Returns:
    A list of argv lists.
  """
  python = venv_python(venv_dir)
  pip = [*uv, 'pip', 'install', '--python', python]
  commands = [
      [*uv, 'venv', '--python', PYTHON_VERSION, '--python-preference', 'only-managed',
       '--seed', venv_dir],
  ] if create else []
  commands += [
      [*pip, '-r', os.path.join(repo_dir, LOCK_FILE)],
      [*pip, '--no-deps', '-r', os.path.join(repo_dir, NO_DEPS_FILE)],
      [*pip, '--no-deps', '-e', repo_dir],
  ]
  if gpu:
    commands.append([*pip, '-r', os.path.join(repo_dir, GPU_FILE)])
  return commands


def _install_key(repo_dir: str, gpu: bool) -> str:
  digest = hashlib.sha256(f'gpu={gpu}'.encode())
  for name in (LOCK_FILE, NO_DEPS_FILE, GPU_FILE, 'setup.py'):
    with open(os.path.join(repo_dir, name), 'rb') as f:
      digest.update(f.read())
  return digest.hexdigest()


def install(repo_dir: str, venv_dir: str, *, gpu: Optional[bool] = None) -> str:
  """Creates the Python 3.11 environment with the project installed, once.

  Re-running is a no-op while the requirement files are unchanged.

  Args:
    repo_dir: the repository checkout.
    venv_dir: where the environment goes.
    gpu: install the CUDA libraries; default: whether `has_gpu()`.

  Returns:
    The environment's python.

  Raises:
    SetupError: a step failed (its output is shown above).
  """
  gpu = has_gpu() if gpu is None else gpu
  stamp = os.path.join(venv_dir, _STAMP)
  key = _install_key(repo_dir, gpu)
  if os.path.exists(stamp) and _read(stamp) == key:
    print(f'Python {PYTHON_VERSION} environment {venv_dir} is up to date.')
    return venv_python(venv_dir)
  env = clean_environ()
  if subprocess.run([sys.executable, '-m', 'uv', '--version'], capture_output=True,
                    check=False).returncode != 0:
    _run([sys.executable, '-m', 'pip', 'install', '--quiet', 'uv'], env)
  create = not os.path.exists(venv_python(venv_dir))
  for command in install_commands(repo_dir, venv_dir, gpu=gpu, create=create):
    _run(command, env)
  with open(stamp, 'w') as f:
    f.write(key)
  return venv_python(venv_dir)


def _read(path: str) -> str:
  with open(path) as f:
    return f.read()


def _run(command: list[str], env: dict) -> None:
  # Copied through Python: Colab does not show a subprocess's own output.
  print('$', ' '.join(command), flush=True)
  with subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT) as process:
    for chunk in iter(lambda: os.read(process.stdout.fileno(), 4096), b''):
      sys.stdout.write(chunk.decode('utf-8', errors='replace'))
      sys.stdout.flush()
    code = process.wait()
  if code != 0:
    raise SetupError(f'{" ".join(command)} failed with status {code} (its output is above).')


class ProjectKernel:
  """An IPython kernel running in another Python, with output relayed here.

  `run_cell(code)` executes code in that kernel (its state persists between
  calls) and republishes what the kernel sends: stdout/stderr text, rich
  displays (images, Markdown), clear-output requests and error tracebacks.
  """

  def __init__(self, python: str, *, cwd: str, env: Optional[dict] = None,
               startup_timeout: float = 120.0):
    """Starts the kernel.

    Args:
      python: the interpreter (it must have ipykernel).
      cwd: the kernel's working directory.
      env: its environment (default: `clean_environ()`).
      startup_timeout: seconds to wait for the kernel to answer.

    Raises:
      SetupError: the kernel did not start (with the end of its log).
    """
    from jupyter_client import kernelspec  # pylint: disable=g-import-not-at-top
    from jupyter_client import manager  # pylint: disable=g-import-not-at-top

    self._spec_dir = tempfile.mkdtemp(prefix='antigan_tf-kernelspec-')
    spec_path = os.path.join(self._spec_dir, KERNEL_NAME)
    os.makedirs(spec_path)
    with open(os.path.join(spec_path, 'kernel.json'), 'w') as f:
      json.dump({'argv': [python, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
                 'display_name': f'antigan_tf (Python {PYTHON_VERSION})',
                 'language': 'python'}, f)
    # The kernel's own output (start-up errors, C++ logs) goes to a file.
    self.log_path = os.path.join(self._spec_dir, 'kernel.log')
    self._log = open(self.log_path, 'wb')
    specs = kernelspec.KernelSpecManager(kernel_dirs=[self._spec_dir])
    self._manager = manager.KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
    self._manager.start_kernel(cwd=cwd, env=clean_environ() if env is None else env,
                               stdout=self._log, stderr=self._log)
    self._client = self._manager.client()
    self._client.start_channels()
    try:
      self._client.wait_for_ready(timeout=startup_timeout)
    except RuntimeError as e:
      log = self.log_tail()
      self.shutdown()
      raise SetupError(f'The kernel in {python} did not start: {e}\n{log}') from e
    atexit.register(self.shutdown)

  def log_tail(self, max_bytes: int = 3000) -> str:
    """The end of the kernel's own output."""
    try:
      with open(self.log_path, 'rb') as f:
        f.seek(max(0, os.path.getsize(self.log_path) - max_bytes))
        return f.read().decode('utf-8', errors='replace')
    except OSError:
      return ''

  def run_cell(self, code: str) -> None:
    """Runs `code` in the kernel, relaying its output.

    Raises:
      CellError: the code raised (the kernel's traceback has been printed).
      KernelDiedError: the kernel is gone; re-run the set-up cell.
      KeyboardInterrupt: interrupted here; the kernel is interrupted too.
    """
    if not self.is_alive():
      raise KernelDiedError(_DEAD_KERNEL)
    msg_id = self._client.execute(code, store_history=True, allow_stdin=False)
    try:
      # In steps, checking that the kernel lives: a dead one never says idle.
      while True:
        try:
          message = self._client.get_iopub_msg(timeout=_POLL_SECONDS)
        except queue.Empty:
          if not self._manager.is_alive():
            raise KernelDiedError(f'{_DEAD_KERNEL}\n{self.log_tail()}') from None
          continue
        if message.get('parent_header', {}).get('msg_id') != msg_id:
          continue
        if (message['header']['msg_type'] == 'status'
            and message['content'].get('execution_state') == 'idle'):
          break
        _relay(message)
      while True:
        reply = self._client.get_shell_msg(timeout=_POLL_SECONDS * 10)
        if reply.get('parent_header', {}).get('msg_id') == msg_id:
          break
    except KeyboardInterrupt:
      self._manager.interrupt_kernel()
      raise
    content = reply['content']
    if content['status'] != 'ok':
      raise CellError(f'{content.get("ename", "Error")}: {content.get("evalue", "")}')

  def is_alive(self) -> bool:
    return getattr(self, '_manager', None) is not None and self._manager.is_alive()

  def shutdown(self) -> None:
    """Stops the kernel; safe to call twice."""
    if getattr(self, '_manager', None) is None:
      return
    try:
      self._client.stop_channels()
      if self._manager.is_alive():
        self._manager.shutdown_kernel(now=True)
    finally:
      self._manager = None
      self._log.close()
      shutil.rmtree(self._spec_dir, ignore_errors=True)


def _relay(message: dict) -> None:
  """Republishes one IOPub message of the project's kernel in this one."""
  from IPython import display  # pylint: disable=g-import-not-at-top

  kind = message['header']['msg_type']
  content = message['content']
  if kind == 'stream':
    stream = sys.stderr if content['name'] == 'stderr' else sys.stdout
    stream.write(content['text'])
    stream.flush()
  elif kind in ('display_data', 'execute_result', 'update_display_data'):
    display.publish_display_data(data=content['data'], metadata=content.get('metadata', {}))
  elif kind == 'clear_output':
    display.clear_output(wait=content.get('wait', False))
  elif kind == 'error':
    sys.stderr.write('\n'.join(content.get('traceback', [])) + '\n')
    sys.stderr.flush()


def route_cells(kernel: ProjectKernel, shell=None) -> None:
  """Makes every later cell of `shell` (default: the running IPython) run in `kernel`."""
  if shell is None:
    from IPython import get_ipython  # pylint: disable=g-import-not-at-top
    shell = get_ipython()
  shell.user_ns['_antigan_tf_run_cell'] = kernel.run_cell

  def to_kernel(lines: list[str]) -> list[str]:
    code = ''.join(lines)
    # Blank cells, and the set-up cell itself (so it can replace a dead kernel).
    if not code.strip() or 'project_env.setup(' in code:
      return lines
    return [f'_antigan_tf_run_cell({code!r})\n']

  to_kernel.antigan_tf = True
  transformers = shell.input_transformers_cleanup
  transformers[:] = [t for t in transformers if not getattr(t, 'antigan_tf', False)]
  transformers.append(to_kernel)


def setup(repo_dir: str, *, venv_dir: str = DEFAULT_VENV_DIR,
          gpu: Optional[bool] = None) -> ProjectKernel:
  """Installs the environment (once), starts its kernel, routes the cells there.

  Args:
    repo_dir: the repository checkout; the kernel's working directory.
    venv_dir: where the Python 3.11 environment goes.
    gpu: install the CUDA libraries; default: whether the runtime has a GPU.

  Returns:
    The `ProjectKernel` the cells now run in.

  Raises:
    SetupError: installing or starting the kernel failed.
  """
  global _kernel
  repo_dir = os.path.abspath(repo_dir)
  python = install(repo_dir, venv_dir, gpu=gpu)
  if _kernel is None or not _kernel.is_alive():
    _kernel = ProjectKernel(python, cwd=repo_dir, env=kernel_environ(venv_dir))
  kernel = _kernel
  route_cells(kernel)
  kernel.run_cell('import platform, antigan_tf\n'
                  'print(f"Cells now run in Python {platform.python_version()} with '
                  'antigan_tf {antigan_tf.__version__}.")')
  return kernel


def federated_python(repo_dir: str, venv_dir: str = DEFAULT_VENV_DIR, *,
                     gpu: Optional[bool] = None) -> str:
  """The Python that runs the `%%federated` cells.

  $ANTIGAN_TF_FEDERATED_PYTHON if set; else this Python if it has TFF (a local
  `make install`); else the Python 3.11 environment, installed once (Colab).

  Raises:
    SetupError: installing the environment failed.
  """
  explicit = os.environ.get(FEDERATED_PYTHON_VARIABLE)
  if explicit:
    if not os.access(explicit, os.X_OK):
      raise SetupError(f'${FEDERATED_PYTHON_VARIABLE} is {explicit!r}, which is not an '
                       'executable Python.')
    return explicit
  if importlib.util.find_spec('tensorflow_federated') is not None:
    return sys.executable
  return install(repo_dir, venv_dir, gpu=gpu)


def sent_variables(names: list[str], namespace: dict) -> str:
  """Python assignments that recreate `names` of `namespace` in another kernel.

  Raises:
    NameError: a name is not defined in `namespace`.
    TypeError: a value is not a literal (numbers, strings, lists, dicts, ...).
  """
  lines = []
  for name in names:
    if name not in namespace:
      raise NameError(f'%%federated: {name} is not defined in this notebook.')
    value = namespace[name]
    try:
      literal = ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError):
      literal = False
    if not literal:
      raise TypeError(f'%%federated: {name} is a {type(value).__name__}; only literals '
                      '(numbers, strings, lists, dicts, ...) go to the federated kernel: '
                      'write arrays to a file and read them there.')
    lines.append(f'{name} = {value!r}\n')
  return ''.join(lines)


def federated_kernel(repo_dir: str, venv_dir: str = DEFAULT_VENV_DIR, *,
                     gpu: bool = False) -> ProjectKernel:
  """The kernel of the `%%federated` cells, started on first use (in this
  kernel's working directory, so relative paths agree)."""
  global _federated_kernel
  if _federated_kernel is None or not _federated_kernel.is_alive():
    python = federated_python(repo_dir, venv_dir, gpu=gpu)
    env = (clean_environ() if python == sys.executable
           else kernel_environ(os.path.dirname(os.path.dirname(python))))
    # TFF's graph optimiser logs INFO lines from C++ at every round.
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
    _federated_kernel = ProjectKernel(python, cwd=os.getcwd(), env=env)
    _federated_kernel.run_cell(
        'import platform, tensorflow_federated\n'
        'print(f"%%federated cells run in Python {platform.python_version()} with TFF '
        '{tensorflow_federated.__version__}.")')
  return _federated_kernel


def enable_federated_cells(repo_dir: str, *, venv_dir: str = DEFAULT_VENV_DIR,
                           gpu: bool = False, shell=None) -> None:
  """Registers the `%%federated` cell magic in `shell` (default: the running IPython).

  A cell that starts with `%%federated NAME ...` runs in the kernel of
  `federated_kernel()` (a Python with TFF), after the literals NAME ... of
  this notebook are assigned there.

  Args:
    repo_dir: the repository checkout (to install the Python 3.11 environment).
    venv_dir: where that environment goes.
    gpu: install the CUDA libraries there (GBs). Off by default: TFF's worker
      is CPU-only, and the notebook's own kernel has the GPU.
    shell: the IPython shell.
  """
  if shell is None:
    from IPython import get_ipython  # pylint: disable=g-import-not-at-top
    shell = get_ipython()
  repo_dir = os.path.abspath(repo_dir)

  def federated(line: str, cell: str) -> None:
    code = sent_variables(line.split(), shell.user_ns) + cell
    federated_kernel(repo_dir, venv_dir, gpu=gpu).run_cell(code)

  shell.register_magic_function(federated, magic_kind='cell', magic_name='federated')
  print('Cells that start with %%federated run in a Python with TFF; the others here, in '
        f'Python {sys.version.split()[0]}.')
