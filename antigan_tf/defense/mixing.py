"""Mixing real images into the generated set (Luo & Zhu, sec. 4.2).

The victim may add some of its real images to the projected set X' to
recover classification accuracy, at the cost of leaking more to the
attacker. The mix ratio is MR = #real / #generated (eq. 10). It is reached
in one of two ways:
- `replace_split` (mode 'replace'): of the N images, N / (1 + MR) are
  projected and the others shared as they are, so N images are shared
  whatever MR is and arms with different MR share the same amount;
- `mix_real` (mode 'add'): all N are projected and MR * N real images are
  added, N (1 + MR) in all.
"""

import math

import numpy as np

from antigan_tf.utils import checks


def _check_pair(x, y, name: str) -> tuple[np.ndarray, np.ndarray]:
  x = np.asarray(x)
  y = np.asarray(y)
  if x.ndim == 0 or y.ndim == 0:
    raise ValueError(f'`x_{name}` and `y_{name}` must be arrays with a batch axis.')
  if len(x) != len(y):
    raise ValueError(
        f'`x_{name}` has {len(x)} images but `y_{name}` has {len(y)} labels.')
  return x, y


def _half_up(value: float) -> int:
  # Half up; the small slack absorbs float error such as 0.1 * 25 = 2.5000001.
  return int(math.floor(value + 0.5 + 1e-9))


def replace_split(num_images: int, *, mix_ratio: float,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Which of N images to project and which to share real, for MR.

  round(N / (1 + MR)) images (half up, at least one) are projected and the
  other N - that are shared real, drawn at random: #real / #generated is MR
  up to rounding, and the shared set keeps N images.

  Args:
    num_images: N (>= 1).
    mix_ratio: MR, finite and >= 0.
    seed: seed of the draw (a non-negative integer).

  Returns:
    (projected, real): disjoint sorted index arrays that cover range(N).

  Raises:
    ValueError: a bad argument.
  """
  num_images = checks.check_int(num_images, 'num_images', 1)
  mix_ratio = checks.check_non_negative_float(mix_ratio, 'mix_ratio')
  seed = checks.check_int(seed, 'seed', 0)
  num_projected = max(1, _half_up(num_images / (1.0 + mix_ratio)))
  order = np.random.default_rng(seed).permutation(num_images)
  return np.sort(order[:num_projected]), np.sort(order[num_projected:])


def mix_real(
    x_generated,
    y_generated,
    x_real,
    y_real,
    *,
    mix_ratio: float,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
  """Adds round(MR * |X'|) of the victim's real images to the generated set.

  The real images are drawn without replacement, the union is shuffled, and
  every image keeps its label. With MR = 0 the output is exactly the
  generated set, shuffled: no real image is shared. Rounding is half up
  (MR = 0.5 with 3 generated images adds 2 real ones), not Python's
  round-half-to-even.

  Args:
    x_generated: (N, ...) generated images X' (e.g. `project(...).images`).
    y_generated: (N, ...) their labels.
    x_real: (M, ...) the victim's real images, same image shape and dtype as
      `x_generated`.
    y_real: (M, ...) their labels, same label shape and dtype as `y_generated`.
    mix_ratio: MR = #real / #generated (eq. 10), finite and >= 0.
    seed: seed of the draw and of the shuffle (a non-negative integer).

  Returns:
    (x, y): N + round(MR * N) images and their labels, shuffled, with the
    dtypes of the inputs.

  Raises:
    ValueError: negative or non-finite `mix_ratio`, an empty generated set,
      images and labels of different lengths, generated and real arrays of
      different shapes or dtypes, or more real images requested than
      `x_real` holds (the message gives both counts and the largest usable
      MR).
  """
  mix_ratio = checks.check_non_negative_float(mix_ratio, 'mix_ratio')
  seed = checks.check_int(seed, 'seed', 0)
  x_generated, y_generated = _check_pair(x_generated, y_generated, 'generated')
  x_real, y_real = _check_pair(x_real, y_real, 'real')
  if len(x_generated) == 0:
    raise ValueError('`x_generated` is empty: there is nothing to mix into.')
  for kind, generated, real in (('x', x_generated, x_real), ('y', y_generated, y_real)):
    if generated.shape[1:] != real.shape[1:] or generated.dtype != real.dtype:
      raise ValueError(
          f'`{kind}_generated` items have shape {generated.shape[1:]} and dtype '
          f'{generated.dtype} but `{kind}_real` items have shape '
          f'{real.shape[1:]} and dtype {real.dtype}; they must match.'
      )

  rng = np.random.default_rng(seed)
  chosen = _draw_real(rng, len(x_generated), len(x_real), mix_ratio)
  x = np.concatenate([x_generated, x_real[chosen]])
  y = np.concatenate([y_generated, y_real[chosen]])
  order = rng.permutation(len(x))
  return x[order], y[order]


def added_real(num_generated: int, num_real: int, *, mix_ratio: float,
               seed: int = 0) -> np.ndarray:
  """The indices of the real images `mix_real` adds (same draw, same seed).

  Args:
    num_generated: |X'| (>= 1).
    num_real: real images available (>= 0).
    mix_ratio: MR, finite and >= 0.
    seed: seed of the draw (a non-negative integer).

  Returns:
    round(MR * num_generated) distinct indices into the real images.

  Raises:
    ValueError: a bad argument, or more real images requested than there are.
  """
  num_generated = checks.check_int(num_generated, 'num_generated', 1)
  num_real = checks.check_int(num_real, 'num_real', 0)
  mix_ratio = checks.check_non_negative_float(mix_ratio, 'mix_ratio')
  seed = checks.check_int(seed, 'seed', 0)
  return _draw_real(np.random.default_rng(seed), num_generated, num_real, mix_ratio)


def _draw_real(rng, num_generated: int, num_real: int, mix_ratio: float) -> np.ndarray:
  count = _half_up(mix_ratio * num_generated)
  if count > num_real:
    raise ValueError(
        f'mix_ratio={mix_ratio} requests {count} real images for '
        f'{num_generated} generated ones, but only {num_real} are available '
        f'(max mix_ratio = {num_real / num_generated:.6g}).'
    )
  return rng.choice(num_real, size=count, replace=False)
