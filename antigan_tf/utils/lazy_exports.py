"""Package exports loaded on first use (PEP 562 module `__getattr__`).

A package whose `__init__` imports heavy modules (TFF, TensorFlow) would pull
them into every import of a light submodule, such as its plain-Python config.
With lazy exports, `from antigan_tf.federated import run_federated` still
works, and `import antigan_tf.federated.config` loads nothing else.
"""

import importlib
from collections.abc import Callable, Mapping


def module_attributes(package: str, exports: Mapping[str, str]
                      ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
  """`__getattr__` and `__dir__` for `package`, exporting name -> module.

  Args:
    package: the package's `__name__`.
    exports: exported name -> the module that defines it (or the submodule
      itself, `'name': f'{package}.name'`).
  """

  def __getattr__(name: str):  # pylint: disable=invalid-name
    if name not in exports:
      raise AttributeError(f'module {package!r} has no attribute {name!r}')
    module = importlib.import_module(exports[name])
    # A submodule is exported as itself ('losses': 'pkg.losses').
    return module if exports[name] == f'{package}.{name}' else getattr(module, name)

  def __dir__():  # pylint: disable=invalid-name
    return sorted(exports)

  return __getattr__, __dir__
