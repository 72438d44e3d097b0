"""The generator side of the GAN attack of Hitaj et al. (2017) in FL.

Threat model (Luo & Zhu, sec. 3.1): an honest-but-curious participant A
declares labels [b, c]; the victim V holds class a (`target_class`). Each
round A downloads the global classifier, uses it, frozen, as the
discriminator of a GAN, and trains its generator G until the classifier says
"a" for G(z). A then labels images from G with its own class c
(`fake_label`), trains its local model on them next to its real data, and
uploads the update: the global model learns that images that look like a's
are c's, which pushes V to reveal more about a in its next update.

`GanAttacker` holds G and its Adam optimizer and sees only a Keras
classifier and numpy arrays; the federated wiring (download, local
training, upload) is done by the caller:

```python
attacker = GanAttacker((28, 28, 1), target_class=6, fake_label=9, num_classes=10)
for round_num in range(num_rounds):
  ...  # assign the global weights to `classifier`
  stats = attacker.train_generator(classifier, steps=100, round_num=round_num)
  x, y = attacker.inject(x_adv, y_adv, num_images=64, round_num=round_num)
  ...  # A's local training on (x, y), upload
  save_image_grid(attacker.reconstructions(64), f'round_{round_num}.png')
state = attacker.get_state()  # Checkpoint; `set_state(state)` restores it.
```

Randomness is stateless: the latents of training step s of round r come from
`tf.random.stateless_normal` with a seed derived from (seed, r, s), and those
of `generate` / `inject` from (seed, r). A run restored with `set_state` at a
round boundary therefore reproduces the uninterrupted run exactly.

BatchNorm. G is the DCGAN generator of `antigan_tf.models`; it is trained
with `training=True` (batch statistics, moving averages updated) and sampled
with `training=False` (moving averages, momentum 0.99), as usual for DCGAN.
The moving averages need a few hundred generator steps to settle, so images
sampled in the first rounds can differ from those the classifier saw during
training.
"""

from collections.abc import Sequence
from typing import Optional

import numpy as np
import tensorflow as tf

from antigan_tf.attack import _common
from antigan_tf.models import builders
from antigan_tf.models import seeding
from antigan_tf.utils import checks

# Independent stateless random streams of one attacker seed.
_TRAIN_STREAM = 1
_GENERATE_STREAM = 2
_RECONSTRUCTION_STREAM = 3
# Images per generator call when sampling (inference mode: chunks are
# independent of each other).
_SAMPLE_CHUNK = 256


class GanAttacker:
  """The adversarial participant's GAN (Hitaj et al., 2017).

  Attributes:
    generator: the functional Keras generator, latents (B, latent_dim) to
      images (B, H, W, C) in [-1, 1].
    optimizer: its `tf.keras.optimizers.Adam`.
    image_shape: (H, W, C).
    target_class: the victim's class a that the attacker reconstructs.
    fake_label: the attacker's own class c given to the generated images.
    num_classes: classes of the global classifier.
    latent_dim: size of z.
    batch_size: latents per generator training step.
    seed: seed of the initial weights and of every random stream.
  """

  def __init__(
      self,
      image_shape: Sequence[int],
      *,
      target_class: int,
      fake_label: int,
      num_classes: int,
      latent_dim: int = 100,
      generator_width: int = 64,
      learning_rate: float = 2e-4,
      batch_size: int = 64,
      seed: int = 0,
  ):
    """Builds the generator and its optimizer.

    Args:
      image_shape: (H, W, C) of the federation's images, H and W multiples of
        4, C in {1, 3}.
      target_class: the victim's class to reconstruct, in [0, num_classes).
      fake_label: the label given to injected images, in [0, num_classes) and
        different from `target_class`.
      num_classes: number of classes of the global classifier (>= 2).
      latent_dim: size of z (>= 1).
      generator_width: base filters of the DCGAN generator (>= 1).
      learning_rate: Adam step size (beta_1 = 0.5, as in DCGAN / Hitaj et al.).
      batch_size: latents per generator training step (>= 1).
      seed: integer >= 0; the initial weights and every latent derive from it.

    Raises:
      ValueError: a bad argument; the message names it.
    """
    self.num_classes = checks.check_int(num_classes, 'num_classes', 2)
    for argname, value in (('target_class', target_class), ('fake_label', fake_label)):
      checks.check_int(value, argname, 0)
      if value >= self.num_classes:
        raise ValueError(
            f'`{argname}` must be in [0, num_classes={self.num_classes}), got {value!r}.')
    if int(fake_label) == int(target_class):
      raise ValueError(
          f'`fake_label` must differ from `target_class` (both {int(target_class)}): the '
          'injected images are relabelled as one of the attacker\'s own classes.')
    self.target_class = int(target_class)
    self.fake_label = int(fake_label)
    self.latent_dim = checks.check_int(latent_dim, 'latent_dim', 1)
    self.generator_width = checks.check_int(generator_width, 'generator_width', 1)
    self.learning_rate = checks.check_positive_float(learning_rate, 'learning_rate')
    self.batch_size = checks.check_int(batch_size, 'batch_size', 1)
    self.seed = checks.check_int(seed, 'seed', 0)

    # Validates image_shape (ValueError naming `image_shape`).
    self.generator = builders.build_generator(
        image_shape, self.latent_dim, width=self.generator_width, name='attacker_generator')
    self.image_shape = tuple(int(d) for d in self.generator.output_shape[1:])
    seeding.seeded_initialize(self.generator, self.seed)
    self.optimizer = tf.keras.optimizers.Adam(
        self.learning_rate, beta_1=0.5, jit_compile=False)
    # Slots now, so `get_state` has the same structure before and after
    # training and `set_state` works on a fresh attacker.
    self.optimizer.build(self.generator.trainable_variables)
    self._key = _common.base_seed(self.seed)
    self._train_fn = None
    self._train_fn_classifier = None

  # --------------------------------------------------------------- training

  def _check_classifier(self, classifier) -> None:
    if not isinstance(classifier, tf.keras.Model):
      raise ValueError(
          f'`classifier` must be a tf.keras.Model, got {type(classifier).__name__}.')
    try:
      input_shape = tuple(classifier.input_shape[1:])
      output_shape = tuple(classifier.output_shape)
    except (AttributeError, RuntimeError, TypeError):
      return  # A subclassed model without static shapes: checked when called.
    if input_shape != self.image_shape:
      raise ValueError(
          f'`classifier` takes images of shape {input_shape}, but the attacker '
          f'generates {self.image_shape}.')
    if len(output_shape) != 2 or output_shape[-1] != self.num_classes:
      raise ValueError(
          f'`classifier` must output (batch, num_classes={self.num_classes}) logits, '
          f'its output shape is {output_shape}.')

  def _build_train_fn(self, classifier: tf.keras.Model):
    """The compiled step loop, with `classifier` captured as discriminator."""
    generator = self.generator
    optimizer = self.optimizer
    variables = generator.trainable_variables
    labels = tf.fill([self.batch_size], tf.constant(self.target_class, tf.int32))
    latent_shape = [self.batch_size, self.latent_dim]
    round_key = lambda round_num: _common.derive_seed(self._key, _TRAIN_STREAM, round_num)
    target_class = self.target_class

    @tf.function(
        input_signature=[tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int64)],
        reduce_retracing=False,
    )
    def train(steps, round_num):
      key = round_key(round_num)

      def body(step, loss, confidence):
        z = tf.random.stateless_normal(latent_shape, seed=_common.derive_seed(key, step))
        with tf.GradientTape() as tape:
          fake = generator(z, training=True)
          # Frozen discriminator: inference mode, and only G's variables
          # are differentiated and updated.
          logits = tf.cast(classifier(fake, training=False), tf.float32)
          loss = tf.reduce_mean(
              tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        confidence = tf.reduce_mean(tf.nn.softmax(logits)[:, target_class])
        return step + 1, loss, confidence

      # A graph loop: traced once, whatever `steps` is.
      _, loss, confidence = tf.while_loop(
          lambda step, *_: step < steps,
          body,
          (tf.constant(0, tf.int64), tf.constant(0.0), tf.constant(0.0)),
      )
      return loss, confidence

    return train

  def train_generator(
      self, classifier: tf.keras.Model, *, steps: int, round_num: int) -> dict[str, float]:
    """Trains G against the current global classifier.

    `steps` Adam steps on G minimising the softmax cross-entropy between
    `classifier(G(z), training=False)` and `target_class`: G learns images
    the global model assigns to the victim's class. The classifier is not
    changed. The step loop is one `tf.function`, traced once per classifier
    object: reassigning the same model's weights between rounds does not
    retrace, passing a different model object builds a new function.

    Args:
      classifier: the global model, mapping (B, H, W, C) images in [-1, 1] to
        (B, num_classes) logits (not probabilities).
      steps: generator updates (>= 1).
      round_num: the federated round (>= 0); the latents of step s are drawn
        from a seed derived from (seed, round_num, s).

    Returns:
      {'generator_loss': the cross-entropy of the last step,
       'target_confidence': the classifier's mean softmax probability of
       `target_class` on the last step's batch} (both computed before that
      step's update, on G in training mode).

    Raises:
      ValueError: bad `steps` / `round_num`, or a classifier whose input or
        output shape does not fit.
    """
    steps = checks.check_int(steps, 'steps', 1)
    round_num = checks.check_int(round_num, 'round_num', 0)
    if self._train_fn is None or self._train_fn_classifier is not classifier:
      self._check_classifier(classifier)
      self._train_fn = self._build_train_fn(classifier)
      self._train_fn_classifier = classifier
    loss, confidence = self._train_fn(
        tf.constant(steps, tf.int64), tf.constant(round_num, tf.int64))
    return {'generator_loss': float(loss), 'target_confidence': float(confidence)}

  # --------------------------------------------------------------- sampling

  def _sample(self, key: tf.Tensor, num_images: int) -> np.ndarray:
    if num_images == 0:
      return np.zeros((0, *self.image_shape), np.float32)
    z = tf.random.stateless_normal([num_images, self.latent_dim], seed=key)
    chunks = [
        self.generator(z[start:start + _SAMPLE_CHUNK], training=False).numpy()
        for start in range(0, num_images, _SAMPLE_CHUNK)
    ]
    return np.concatenate(chunks).astype(np.float32, copy=False)

  def generate(self, num_images: int, *, round_num: int) -> np.ndarray:
    """Samples G (inference mode) for a round.

    Args:
      num_images: images to generate (>= 0).
      round_num: the federated round (>= 0); the latents are drawn from a
        seed derived from (seed, round_num), so the same round gives the
        same images for the same weights.

    Returns:
      float32 (num_images, H, W, C) in [-1, 1].

    Raises:
      ValueError: bad `num_images` / `round_num`.
    """
    num_images = checks.check_int(num_images, 'num_images', 0)
    round_num = checks.check_int(round_num, 'round_num', 0)
    return self._sample(
        _common.derive_seed(self._key, _GENERATE_STREAM, round_num), num_images)

  def reconstructions(self, num_images: int = 64, *, seed: Optional[int] = None) -> np.ndarray:
    """G (inference mode) on a fixed latent batch, to compare across rounds.

    The latents depend only on (`seed`, `num_images`), not on the round or
    on training, so grids saved after different rounds show the same z.

    Args:
      num_images: images (>= 1).
      seed: seed of the fixed latents (>= 0); defaults to the attacker's seed.

    Returns:
      float32 (num_images, H, W, C) in [-1, 1].

    Raises:
      ValueError: bad `num_images` / `seed`.
    """
    num_images = checks.check_int(num_images, 'num_images', 1)
    seed = self.seed if seed is None else checks.check_int(seed, 'seed', 0)
    key = _common.derive_seed(_common.base_seed(seed), _RECONSTRUCTION_STREAM)
    return self._sample(key, num_images)

  def inject(self, x_local, y_local, *, num_images: int, round_num: int):
    """Appends `num_images` generated images labelled `fake_label`.

    The poisoned set is the attacker's real data followed by
    `generate(num_images, round_num=round_num)`; shuffling is left to the
    training pipeline.

    Args:
      x_local: the attacker's images, (N, H, W, C) (N may be 0).
      y_local: their integer labels, (N,).
      num_images: generated images to add (>= 0).
      round_num: the federated round (>= 0), as for `generate`.

    Returns:
      (x, y): with num_images = 0, `x_local` and `y_local` themselves;
      otherwise float32 (N + num_images, H, W, C) images with the real ones
      first, unchanged, and int32 (N + num_images,) labels ending with
      `num_images` times `fake_label`.

    Raises:
      ValueError: bad shapes or dtypes, labels outside [0, num_classes), bad
        `num_images` / `round_num`.
    """
    num_images = checks.check_int(num_images, 'num_images', 0)
    round_num = checks.check_int(round_num, 'round_num', 0)
    x = _common.as_array(x_local, 'x_local')
    y = _common.as_array(y_local, 'y_local')
    if x.ndim != 4 or x.shape[1:] != self.image_shape:
      raise ValueError(
          f'`x_local` must have shape (N, {", ".join(map(str, self.image_shape))}), '
          f'got {x.shape}.')
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
      raise ValueError(f'`x_local` must hold numbers, got dtype {x.dtype}.')
    if y.shape != (x.shape[0],):
      raise ValueError(
          f'`y_local` must have shape ({x.shape[0]},) (one label per image), got {y.shape}.')
    if not np.issubdtype(y.dtype, np.integer):
      raise ValueError(f'`y_local` must hold integer labels, got dtype {y.dtype}.')
    if y.size and (y.min() < 0 or y.max() >= self.num_classes):
      raise ValueError(
          f'`y_local` labels must be in [0, {self.num_classes}), got '
          f'[{y.min()}, {y.max()}].')
    if num_images == 0:
      return x_local, y_local
    fakes = self.generate(num_images, round_num=round_num)
    x_out = np.concatenate([x.astype(np.float32, copy=False), fakes])
    y_out = np.concatenate(
        [y.astype(np.int32, copy=False), np.full([num_images], self.fake_label, np.int32)])
    return x_out, y_out

  # ------------------------------------------------------------ checkpoints

  def _state_variables(self) -> list[tf.Variable]:
    # Generator weights (trainable and BatchNorm moving statistics) in model
    # order, then the optimizer's (iterations, first and second moments).
    return list(self.generator.weights) + list(self.optimizer.variables)

  def get_state(self) -> list[np.ndarray]:
    """Generator weights and optimizer variables, as numpy copies.

    The list has the same length, order and shapes for every attacker built
    with the same arguments, trained or not.
    """
    return [np.array(v.numpy(), copy=True) for v in self._state_variables()]

  def set_state(self, state: Sequence[np.ndarray]) -> None:
    """Restores a `get_state()` list exactly.

    Raises:
      ValueError: a list of the wrong length, or an entry of the wrong shape.
    """
    variables = self._state_variables()
    state = list(state)
    if len(state) != len(variables):
      raise ValueError(
          f'`state` must have {len(variables)} arrays (from get_state() of an attacker '
          f'with the same arguments), got {len(state)}.')
    arrays = []
    for i, (variable, value) in enumerate(zip(variables, state)):
      value = np.asarray(value)
      if value.shape != tuple(variable.shape):
        raise ValueError(
            f'`state[{i}]` ({variable.name}) must have shape {tuple(variable.shape)}, '
            f'got {value.shape}.')
      arrays.append(value.astype(variable.dtype.as_numpy_dtype, copy=False))
    for variable, value in zip(variables, arrays):
      variable.assign(value)
