"""Projection of real images onto a trained generator's range (Defense-GAN).

The victim never shares its images X. For each x_i it searches the latent
space of its (frozen) Anti-GAN generator for

  z_i* = argmin_z  lambda1 * L_sim(G(z), t_i) - s * lambda2 * L_obf(G(z))
                   + latent_weight * (||z||^2 / d - 1)^2

and shares G(z_i*) instead (Luo & Zhu, sec. 3.2.1, following Samangouei et
al., 2018): R random initialisations of z, L Adam steps each, and the restart
with the lowest final objective is kept. The last term (beyond the paper,
0 by default) keeps z near the shell ||z||^2 = d where a N(0, I) latent of
size d lies, and where the generator was trained.

All R restarts of a chunk of `batch_size` images are one batched tensor of
shape (R * batch_size, latent_dim) and the L steps run in a `tf.while_loop`
inside one `tf.function`, so the generator sees large batches, the graph is
traced once per call of `project` whatever L and the number of chunks, and no
Python loop runs per restart or per step. The generator is always called with
`training=False`: its weights are not updated and BatchNorm uses its moving
statistics, so every restart is computed independently of the others.
"""

from typing import NamedTuple, Optional

import numpy as np
import tensorflow as tf
import tqdm

from antigan_tf.defense import losses
from antigan_tf.utils import checks

# Standard Adam constants (Kingma & Ba, 2015); z is a plain tensor, so the
# update is written out instead of using Keras optimizer variables.
_ADAM_BETA_1 = 0.9
_ADAM_BETA_2 = 0.999
_ADAM_EPSILON = 1e-8


class ProjectionResult(NamedTuple):
  """What `project` returns, one row per input image.

  Attributes:
    images: float32 (N, H, W, C), G(z*) for each input.
    latents: float32 (N, latent_dim), the kept z* for each input.
    objective: float32 (N,), the objective at the kept z* (the lowest over the
      restarts).
  """
  images: np.ndarray
  latents: np.ndarray
  objective: np.ndarray


def _generator_shapes(generator) -> tuple[int, tuple[int, ...]]:
  """(latent_dim, image_shape) of a generator mapping (B, d) to (B, H, W, C)."""
  try:
    latent_dim = int(generator.input_shape[-1])
    image_shape = tuple(int(d) for d in generator.output_shape[1:])
  except (AttributeError, TypeError, ValueError):
    raise ValueError(
        '`generator` must be a built Keras model mapping (batch, latent_dim) to '
        '(batch, H, W, C) images.'
    ) from None
  return latent_dim, image_shape


def _target_tensor(x, target, *, target_mode, pool_size, image_shape) -> Optional[tf.Tensor]:
  """The fixed L_sim target for 'mean'/'mean_maxpool', None for 'per_sample'."""
  if target_mode == 'per_sample':
    if target is not None:
      raise ValueError(
          "`target` must be None for target_mode='per_sample': each image is its "
          'own target.'
      )
    return None
  height, width, channels = image_shape
  if target_mode == 'mean':
    expected = (1, height, width, channels)
  else:
    expected = (1, height // pool_size, width // pool_size, channels)
  if target is None:
    target = losses.similarity_target(x, mode=target_mode, pool_size=pool_size)
  target = np.asarray(target, np.float32)
  if target.shape == expected[1:]:
    target = target[None]  # A single image without its batch axis is fine.
  if target.shape != expected:
    raise ValueError(
        f'`target` for target_mode={target_mode!r} must have shape {expected} '
        f'(from losses.similarity_target), got {target.shape}.'
    )
  if not np.all(np.isfinite(target)):
    raise ValueError('`target` contains non-finite values.')
  return tf.constant(target)


def _make_projection_fn(
    generator,
    *,
    target: Optional[tf.Tensor],
    image_shape: tuple[int, ...],
    latent_dim: int,
    batch_size: int,
    restarts: int,
    steps: int,
    lambda1: float,
    lambda2: float,
    variance_mode: str,
    target_mode: str,
    pool_size: int,
    learning_rate: float,
    latent_weight: float,
):
  """Builds the `tf.function` that projects one chunk of `batch_size` images.

  The function maps (x: (B, H, W, C), z0: (R * B, latent_dim)) to the kept
  (images (B, H, W, C), latents (B, latent_dim), objective (B,)). Rows of z0
  are restart-major: row r * B + i is restart r of image i. A fixed input
  signature means one trace per built function, however many chunks.

  Args:
    generator: the frozen generator.
    target: the shared L_sim target, or None for 'per_sample'.
    image_shape: (H, W, C) of the generator's output.
    latent_dim: size of z.
    batch_size: B, images per chunk.
    restarts: R, initialisations per image.
    steps: Adam steps per restart.
    lambda1: weight of L_sim.
    lambda2: weight of L_obf.
    variance_mode: 'max' or 'min'.
    target_mode: see `losses.similarity_target`.
    pool_size: pooling for 'mean_maxpool'.
    learning_rate: Adam step size.
    latent_weight: weight of the prior on ||z|| (`latent_shell_penalty`).

  Returns:
    The `tf.function`.
  """
  num_rows = restarts * batch_size

  def objective(z, targets):
    images = generator(z, training=False)
    values = losses.anti_gan_objective(
        images,
        targets,
        lambda1=lambda1,
        lambda2=lambda2,
        variance_mode=variance_mode,
        target_mode=target_mode,
        pool_size=pool_size,
        reduce=False,
    )
    if latent_weight:
      values += latent_weight * latent_shell_penalty(z)
    return images, values

  @tf.function(
      input_signature=[
          tf.TensorSpec([batch_size, *image_shape], tf.float32),
          tf.TensorSpec([num_rows, latent_dim], tf.float32),
      ],
      reduce_retracing=False,
  )
  def project_chunk(x, z0):
    # Restart-major rows: tiling x lines image i up with every restart of it.
    targets = tf.tile(x, [restarts, 1, 1, 1]) if target is None else target

    def body(step, z, m, v):
      with tf.GradientTape() as tape:
        tape.watch(z)
        _, values = objective(z, targets)
        # A sum, not a mean: each row's gradient is that restart's own
        # gradient, independent of the batch size (rows do not interact).
        total = tf.reduce_sum(values)
      # Zero, not None, when both lambdas are 0 (the objective is constant).
      grad = tape.gradient(total, z, unconnected_gradients=tf.UnconnectedGradients.ZERO)
      t = tf.cast(step + 1, tf.float32)
      m = _ADAM_BETA_1 * m + (1.0 - _ADAM_BETA_1) * grad
      v = _ADAM_BETA_2 * v + (1.0 - _ADAM_BETA_2) * tf.square(grad)
      m_hat = m / (1.0 - tf.pow(_ADAM_BETA_1, t))
      v_hat = v / (1.0 - tf.pow(_ADAM_BETA_2, t))
      z = z - learning_rate * m_hat / (tf.sqrt(v_hat) + _ADAM_EPSILON)
      return step + 1, z, m, v

    zeros = tf.zeros_like(z0)
    # A graph loop: the body is traced once, whatever `steps` is.
    _, z, _, _ = tf.while_loop(
        lambda step, *_: step < steps, body, (tf.constant(0), z0, zeros, zeros))
    # Re-evaluated at the final z: the last loop value is from before the
    # last update.
    images, values = objective(z, targets)
    ranked = tf.where(
        tf.math.is_finite(values), values, tf.constant(np.inf, values.dtype))
    best = tf.argmin(tf.reshape(ranked, [restarts, batch_size]), axis=0, output_type=tf.int32)
    rows = best * batch_size + tf.range(batch_size)
    return tf.gather(images, rows), tf.gather(z, rows), tf.gather(values, rows)

  return project_chunk


def latent_shell_penalty(z: tf.Tensor) -> tf.Tensor:
  """(||z||^2 / d - 1)^2 per row of z (B, d): 0 on the shell of N(0, I)."""
  return tf.square(tf.reduce_mean(tf.square(z), axis=-1) - 1.0)


def _checked_images(x, image_shape) -> np.ndarray:
  x = np.asarray(x, np.float32)
  if x.ndim != 1 + len(image_shape) or x.shape[1:] != image_shape:
    raise ValueError(
        f'`x` must have shape (N, {", ".join(map(str, image_shape))}) to match '
        f'the generator output shape {image_shape}, got {x.shape}.'
    )
  if x.shape[0] == 0:
    raise ValueError('`x` is empty: there is nothing to project.')
  return x


def _project_in_chunks(project_chunk, x, *, seed, batch_size, restarts, latent_dim, progress):
  """(images, latents, objective) of `x`, one chunk of `batch_size` at a time."""
  num_images, image_shape = x.shape[0], x.shape[1:]
  rng = tf.random.Generator.from_seed(seed)
  images = np.empty((num_images, *image_shape), np.float32)
  latents = np.empty((num_images, latent_dim), np.float32)
  objective = np.empty((num_images,), np.float32)
  starts = range(0, num_images, batch_size)
  for start in tqdm.tqdm(starts, desc='Projection', unit='chunk', disable=not progress):
    count = min(batch_size, num_images - start)
    chunk = x[start:start + count]
    if count < batch_size:
      padding = np.zeros((batch_size - count, *image_shape), np.float32)
      chunk = np.concatenate([chunk, padding])
    # One child generator per chunk: its draws do not shift the next chunk's.
    chunk_rng = rng.split(1)[0]
    z0 = chunk_rng.normal([batch_size, latent_dim])
    if restarts > 1:
      # Drawn after restart 0, so restart 0 does not depend on `restarts`.
      z0 = tf.concat([z0, chunk_rng.normal([(restarts - 1) * batch_size, latent_dim])], 0)
    chunk_images, chunk_latents, chunk_objective = project_chunk(tf.constant(chunk), z0)
    images[start:start + count] = chunk_images.numpy()[:count]
    latents[start:start + count] = chunk_latents.numpy()[:count]
    objective[start:start + count] = chunk_objective.numpy()[:count]
  return images, latents, objective


def project(
    generator: tf.keras.Model,
    x: np.ndarray,
    *,
    lambda1: float,
    lambda2: float,
    variance_mode: str = 'max',
    target_mode: str = 'per_sample',
    target: Optional[np.ndarray] = None,
    pool_size: int = 2,
    restarts: int = 10,
    steps: int = 200,
    learning_rate: float = 0.05,
    latent_weight: float = 0.0,
    batch_size: int = 128,
    seed: int = 0,
    progress: bool = True,
) -> ProjectionResult:
  """Projects real images onto the generator's range with the Anti-GAN loss.

  For each x_i, minimises lambda1 * L_sim(G(z), t_i) - s * lambda2 *
  L_obf(G(z)) over z (eq. 9's inner problem; s = +1 for 'max', -1 for 'min')
  with `steps` Adam steps from each of `restarts` initialisations
  z ~ N(0, I), and keeps the restart with the lowest objective at its final z.
  The generator is frozen and called with `training=False`.

  Randomness: a `tf.random.Generator.from_seed(seed)` is split once per chunk
  and each chunk's generator draws restart 0 before the other restarts, so
  the same seed gives identical results, and restart 0 of every image starts
  from the same z whatever `restarts` is (more restarts never keep a worse z
  than `restarts=1`, up to float rounding). The latents do depend on
  `batch_size`.

  Args:
    generator: a trained generator, a Keras model mapping (B, latent_dim) to
      (B, H, W, C) images. Not modified.
    x: (N, H, W, C) real images to project, (H, W, C) the generator's output
      shape.
    lambda1: weight of L_sim (finite, >= 0).
    lambda2: weight of L_obf (finite, >= 0).
    variance_mode: 'max' (eq. 7, sharper images) or 'min' (eq. 8).
    target_mode: 'per_sample' (each x_i is its own L_sim target), 'mean' or
      'mean_maxpool' (one shared target, see `losses.similarity_target`).
    target: for 'mean'/'mean_maxpool', the precomputed target, e.g.
      `losses.similarity_target(all_victim_images, mode=target_mode)`, of
      shape (1, H, W, C) or (1, H/p, W/p, C); None computes it from `x`. Must
      be None for 'per_sample'.
    pool_size: max-pool window for 'mean_maxpool' (>= 1).
    restarts: R, random initialisations per image (>= 1).
    steps: L, Adam steps per restart (>= 0). 0 means plain sampling: one
      random z per image, G(z) without optimisation, `restarts` ignored; the
      objective is still reported.
    learning_rate: Adam step size (> 0).
    latent_weight: weight (>= 0) of the prior on ||z||,
      `latent_shell_penalty`; 0 = the paper's objective.
    batch_size: images per chunk (>= 1); the generator sees batches of
      `batch_size * restarts` latents. The last chunk is padded to this size
      so the function is traced once; the padding is dropped.
    seed: seed of the latent initialisations.
    progress: show a tqdm bar over the chunks.

  Returns:
    A `ProjectionResult` (images, latents, objective), float32, in the order
    of `x`.

  Raises:
    ValueError: an argument out of range (named in the message), unknown
      modes, an empty `x`, `x` whose image shape is not the generator's
      output shape, a target of the wrong shape, or an image whose restarts
      all end with a non-finite objective (its index is given).
  """
  lambda1 = checks.check_non_negative_float(lambda1, 'lambda1')
  lambda2 = checks.check_non_negative_float(lambda2, 'lambda2')
  learning_rate = checks.check_positive_float(learning_rate, 'learning_rate')
  latent_weight = checks.check_non_negative_float(latent_weight, 'latent_weight')
  restarts = checks.check_int(restarts, 'restarts', 1)
  steps = checks.check_int(steps, 'steps', 0)
  batch_size = checks.check_int(batch_size, 'batch_size', 1)
  pool_size = checks.check_int(pool_size, 'pool_size', 1)
  seed = checks.check_int(seed, 'seed', 0)
  checks.check_choice(variance_mode, 'variance_mode', losses.VARIANCE_MODES)
  checks.check_choice(target_mode, 'target_mode', losses.TARGET_MODES)
  latent_dim, image_shape = _generator_shapes(generator)
  x = _checked_images(x, image_shape)
  num_images = x.shape[0]
  target_tensor = _target_tensor(
      x, target, target_mode=target_mode, pool_size=pool_size, image_shape=image_shape)

  # Fewer images than a chunk: shrink the chunk instead of padding, or the
  # generator would run on batch_size * restarts latents for a few images.
  batch_size = min(batch_size, num_images)
  if steps == 0:
    restarts = 1  # Plain sampling: extra restarts could not be ranked usefully.
  project_chunk = _make_projection_fn(
      generator,
      target=target_tensor,
      image_shape=image_shape,
      latent_dim=latent_dim,
      batch_size=batch_size,
      restarts=restarts,
      steps=steps,
      lambda1=lambda1,
      lambda2=lambda2,
      variance_mode=variance_mode,
      target_mode=target_mode,
      pool_size=pool_size,
      learning_rate=learning_rate,
      latent_weight=latent_weight,
  )

  images, latents, objective = _project_in_chunks(
      project_chunk, x, seed=seed, batch_size=batch_size, restarts=restarts,
      latent_dim=latent_dim, progress=progress)
  _check_finite(objective, restarts)
  return ProjectionResult(images=images, latents=latents, objective=objective)


def _check_finite(objective: np.ndarray, restarts: int) -> None:
  bad = np.flatnonzero(~np.isfinite(objective))
  if bad.size:
    raise ValueError(
        f'All {restarts} restart(s) of sample {int(bad[0])} ended with a '
        f'non-finite objective ({bad.size} sample(s) affected: '
        f'{bad[:10].tolist()}). Lower `learning_rate` or check the generator.'
    )
