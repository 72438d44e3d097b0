"""The Keras dtype policy the GAN networks are built under: `--precision`.

`mixed_bfloat16` computes in bfloat16 and keeps float32 variables (Keras mixed
precision; bfloat16 has float32's range, so no loss scaling). `auto` picks it
where it pays: on GPUs of compute capability 8 or more (tensor cores) and on
CPUs with AMX tiles. On a CPU with AVX512-BF16 but no AMX (the 2-core AMD
EPYC this project is measured on) it did not: the black-box attacker's
WGAN-GP ran at 0.7x float32's steps per wall second and 1.0x per CPU second,
the Hitaj et al. generator at 1.2-1.6x (benchmarks/bench_precision.py), so
`auto` keeps float32 there and `--precision=mixed_bfloat16` forces it.

The networks' output layers stay float32 (`models.builders`), so images,
critic scores, logits and everything computed from them (the WGAN-GP losses,
the gradient penalty, the Anti-GAN similarity and variance terms) are
float32. The classifier inside TFF is always built under float32.

TensorFlow is imported on call, so importing this module (and the config
modules that declare `--precision`) stays TF-free.
"""

import contextlib
import functools
from collections.abc import Iterator

from antigan_tf.utils import checks
from antigan_tf.utils.settings import setting

FLOAT32 = 'float32'
MIXED_BFLOAT16 = 'mixed_bfloat16'
PRECISIONS = ('auto', FLOAT32, MIXED_BFLOAT16)
# /proc/cpuinfo flags of x86 CPUs whose bfloat16 matrix units beat float32
# (AMX). AVX512-BF16 alone did not (module docstring).
_BF16_CPU_FLAGS = frozenset({'amx_bf16'})
_CPUINFO = '/proc/cpuinfo'


def precision_setting():
  """The `precision` field of a config (one declaration for every binary)."""
  return setting(
      'auto', 'Keras dtype policy of the defender, the attackers and the evaluation network: '
      'auto (mixed_bfloat16 on GPUs of compute capability >= 8 and CPUs with AMX, float32 '
      'elsewhere: on AVX512-BF16 alone it measured no faster), float32 or mixed_bfloat16. '
      'The TFF classifier stays float32.',
      checks.one_of(PRECISIONS), choices=PRECISIONS)


def cpu_supports_bfloat16(cpuinfo_path: str = _CPUINFO) -> bool:
  """Whether /proc/cpuinfo lists AMX-BF16 (False if unreadable)."""
  try:
    with open(cpuinfo_path, encoding='utf-8', errors='replace') as f:
      for line in f:
        if line.startswith('flags'):
          return bool(_BF16_CPU_FLAGS & set(line.split(':', 1)[-1].split()))
  except OSError:
    pass
  return False


def gpu_supports_bfloat16() -> bool:
  """Whether TensorFlow sees a GPU of compute capability 8.0 or more."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  for gpu in tf.config.list_physical_devices('GPU'):
    capability = tf.config.experimental.get_device_details(gpu).get('compute_capability')
    if capability and tuple(capability) >= (8, 0):
      return True
  return False


def resolve(precision: str) -> str:
  """'float32' or 'mixed_bfloat16' for a `--precision` value.

  Raises:
    ValueError: not one of PRECISIONS.
  """
  if precision not in PRECISIONS:
    raise ValueError(f'`precision` must be one of {PRECISIONS}, got {precision!r}.')
  if precision != 'auto':
    return precision
  return _auto_policy()


@functools.lru_cache(maxsize=None)
def _auto_policy() -> str:
  # The hardware does not change within a process: probed once.
  return MIXED_BFLOAT16 if gpu_supports_bfloat16() or cpu_supports_bfloat16() else FLOAT32


@contextlib.contextmanager
def policy_scope(precision: str) -> Iterator[str]:
  """Builds Keras layers under `precision`'s policy; restores the old one after.

  Layers keep the policy they were built with, so models built inside the
  `with` compute in it for good, and models built elsewhere (the TFF
  classifier) are not affected.

  Yields:
    The resolved policy name.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  name = resolve(precision)
  previous = tf.keras.mixed_precision.global_policy()
  tf.keras.mixed_precision.set_global_policy(name)
  try:
    yield name
  finally:
    tf.keras.mixed_precision.set_global_policy(previous)
