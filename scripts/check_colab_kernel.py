"""Checks the notebooks' Colab set-up flow in a kernel with Colab's versions.

The tests run colab/project_env.py with this project's own jupyter_client; on
Colab it runs inside Colab's kernel (Python 3.12, ipykernel 6.17.1, IPython
7.34, jupyter_client 7.4.9 in the 2026.01 runtime). This script starts such a
kernel and sends it the notebooks' flow: set-up (with the install step
replaced by this checkout's .venv), routed cells (text, Markdown, a matplotlib
image, tqdm, an error), a killed project kernel, and the set-up re-run.

  python3.12 -m venv /tmp/colab-like
  /tmp/colab-like/bin/pip install ipykernel==6.17.1 ipython==7.34.0 \
      jupyter_client==7.4.9 tornado==6.5.1 pyzmq==26.2.1 traitlets==5.7.1
  /tmp/colab-like/bin/python scripts/check_colab_kernel.py   # after `make install`

Exits 1 with the first unexpected outcome.
"""

import os
import sys

from jupyter_client.manager import start_new_kernel

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP = (f"project_env.setup({REPO!r}, venv_dir={os.path.join(REPO, '.venv')!r}, gpu=False)")
# (cell, expected status, text that must appear in its relayed output)
CELLS = [
    (f"import sys\nsys.path.insert(0, {os.path.join(REPO, 'colab')!r})\nimport project_env\n"
     "project_env.install = lambda repo, venv, gpu=None: venv + '/bin/python'\n" + SETUP,
     'ok', 'Cells now run in Python 3.11'),
    ('import platform; print(platform.python_version())', 'ok', '3.11.'),
    ("from IPython.display import Markdown, display\ndisplay(Markdown('**shown**'))", 'ok',
     '**shown**'),
    ('import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()', 'ok', 'image/png'),
    ('from tqdm import tqdm\nfor _ in tqdm(range(3)): pass', 'ok', '3/3'),
    ('1 / 0', 'error', 'ZeroDivisionError'),
    ("print('after the error')", 'ok', 'after the error'),
    ('import os\nos._exit(1)', 'error', 'KernelDiedError'),
    (SETUP, 'ok', 'Cells now run in Python 3.11'),
    ("print('in the new kernel')", 'ok', 'in the new kernel'),
]


def main():
  manager, client = start_new_kernel(kernel_name='python3')
  try:
    for code, status, expected in CELLS:
      seen = []

      def collect(message, seen=seen):
        content = message['content']
        seen.append(str(content.get('text', '')) + ' '.join(content.get('data', {})) +
                    str(content.get('data', {}).get('text/markdown', '')) +
                    str(content.get('ename', '')))

      reply = client.execute_interactive(code, output_hook=collect, timeout=300)
      text = '\n'.join(seen)
      ok = reply['content']['status'] == status and expected in text
      print(f"{'ok  ' if ok else 'FAIL'} {code.splitlines()[-1][:60]!r}: "
            f"{reply['content']['status']}")
      if not ok:
        print(text[-2000:])
        return 1
  finally:
    manager.shutdown_kernel(now=True)
  print('The Colab set-up flow works with this kernel\'s versions.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
