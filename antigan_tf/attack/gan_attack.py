"""The generator side of the GAN attack of Hitaj et al. (2017) in FL.

Threat model (Luo & Zhu, sec. 3.1): an honest-but-curious participant A
declares labels [b, c]; the victim V holds class a (`target_class`). Each
round A downloads the global classifier, uses it, frozen, as the
discriminator of a GAN, and trains its generator G until the classifier says
"a" for G(z). A then labels images from G with a fake class (`fake_label`:
Hitaj et al.'s class c that A declares, or, as public reproductions do, an
extra output class of the global model that no client holds), trains its
local model on them next to its real data, and uploads the update: the global
model learns that images that look like a's are fakes, which pushes V to
reveal more about a in its next update.

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

Image prior (`prior_weight > 0`, beyond Hitaj et al.). Against a frozen
classifier alone, G finds adversarial patterns: images the classifier calls
the target class that look like noise, and one of them for every z (mode
collapse). An attacker who also holds real images of other classes can use
them as a prior: a WGAN-GP critic (Gulrajani et al., 2017) learns, from the
attacker's own images, what real images of the domain look like, and G's loss
becomes CE(classifier(G(z)), target) + prior_weight * -E[critic(G(z))]. The
critic takes `prior_critic_steps` updates per generator step, on batches of
the attacker's images drawn from the same stateless streams.

Mode seeking (`mode_seeking_weight > 0`, beyond Hitaj et al.). The prior
does not stop G from drawing a few shirts for all z. The mode-seeking loss
of Mao et al. (2019) on the two halves of each batch,
1 / (mean |G(z1) - G(z2)| / mean |z1 - z2| + eps), is added with this
weight, so that different latents give different images.
"""

from collections.abc import Sequence
from typing import Optional

import numpy as np
import tensorflow as tf

from antigan_tf.attack import _common
from antigan_tf.data import images as images_lib
from antigan_tf.gan import losses as gan_losses
from antigan_tf.models import builders
from antigan_tf.models import seeding
from antigan_tf.utils import checks
from antigan_tf.utils import keras_compat
from antigan_tf.utils import precision as precision_lib

# Independent stateless random streams of one attacker seed.
_TRAIN_STREAM = 1
_GENERATE_STREAM = 2
_RECONSTRUCTION_STREAM = 3
_PRIOR_STREAM = 4
_CRITIC_INIT_STREAM = 5
# Gradient-penalty weight of the prior critic (Gulrajani et al.).
_GP_WEIGHT = 10.0
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
      upsampling: str = 'resize',
      learning_rate: float = 2e-4,
      batch_size: int = 64,
      seed: int = 0,
      prior_weight: float = 0.0,
      prior_critic_steps: int = 5,
      mode_seeking_weight: float = 0.0,
      precision: str = 'float32',
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
      upsampling: the generator's 'resize' (resize-convolution, no
        checkerboards) or 'transposed' (DCGAN) upsampling.
      learning_rate: Adam step size (beta_1 = 0.5, as in DCGAN / Hitaj et al.).
      batch_size: latents per generator training step (>= 1).
      seed: integer >= 0; the initial weights and every latent derive from it.
      prior_weight: weight (>= 0) of the image prior, a WGAN-GP critic on the
        attacker's own real images (module docstring); 0 is Hitaj et al.'s
        attack, with no critic.
      prior_critic_steps: critic updates per generator step (>= 1).
      mode_seeking_weight: weight (>= 0) of the mode-seeking loss (module
        docstring); needs batch_size >= 2.
      precision: 'float32', 'mixed_bfloat16' or 'auto' (`utils.precision`):
        the Keras policy the generator (and critic) compute in; the
        classifier is the caller's.

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
          'injected images are relabelled as a class the attacker declares.')
    self.target_class = int(target_class)
    self.fake_label = int(fake_label)
    self.latent_dim = checks.check_int(latent_dim, 'latent_dim', 1)
    self.generator_width = checks.check_int(generator_width, 'generator_width', 1)
    self.learning_rate = checks.check_positive_float(learning_rate, 'learning_rate')
    self.batch_size = checks.check_int(batch_size, 'batch_size', 1)
    self.seed = checks.check_int(seed, 'seed', 0)
    self.prior_weight = checks.check_non_negative_float(prior_weight, 'prior_weight')
    self.prior_critic_steps = checks.check_int(prior_critic_steps, 'prior_critic_steps', 1)
    self.mode_seeking_weight = checks.check_non_negative_float(
        mode_seeking_weight, 'mode_seeking_weight')
    if self.mode_seeking_weight and self.batch_size < 2:
      raise ValueError('`batch_size` must be >= 2 with mode_seeking_weight > 0 (the loss '
                       f'pairs the two halves of a batch), got {self.batch_size}.')

    # Validates image_shape (ValueError naming `image_shape`).
    with precision_lib.policy_scope(precision):
      self.generator = builders.build_generator(
          image_shape, self.latent_dim, width=self.generator_width, upsampling=upsampling,
          name='attacker_generator')
      self.critic = None
      if self.prior_weight > 0:
        self.critic = builders.build_critic(
            image_shape, width=self.generator_width, name='attacker_prior_critic')
    self.image_shape = tuple(int(d) for d in self.generator.output_shape[1:])
    seeding.seeded_initialize(self.generator, self.seed)
    self.optimizer = keras_compat.adam(self.learning_rate, beta_1=0.5)
    # Slots now, so `get_state` has the same structure before and after
    # training and `set_state` works on a fresh attacker.
    self.optimizer.build(self.generator.trainable_variables)
    self.critic_optimizer = None
    if self.critic is not None:
      seeding.seeded_initialize(self.critic, self.seed, _CRITIC_INIT_STREAM)
      self.critic_optimizer = keras_compat.adam(self.learning_rate, beta_1=0.5, beta_2=0.9)
      self.critic_optimizer.build(self.critic.trainable_variables)
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
    prior_weight = self.prior_weight
    mode_seeking_weight = self.mode_seeking_weight
    half = self.batch_size // 2
    critic_update = self._critic_update

    @tf.function(
        input_signature=[tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int64),
                         tf.TensorSpec([None, *self.image_shape], tf.float32)],
        reduce_retracing=False,
    )
    def train(steps, round_num, prior_images):
      key = round_key(round_num)

      def body(step, loss, confidence):
        step_key = _common.derive_seed(key, step)
        if prior_weight:
          critic_update(step_key, prior_images)
        z = tf.random.stateless_normal(latent_shape, seed=step_key)
        with tf.GradientTape() as tape:
          fake = generator(z, training=True)
          # Frozen discriminator: inference mode, and only G's variables
          # are differentiated and updated.
          logits = tf.cast(classifier(fake, training=False), tf.float32)
          loss = tf.reduce_mean(
              tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
          total = loss
          if prior_weight:
            total += prior_weight * gan_losses.generator_loss(self.critic(fake, training=True))
          if mode_seeking_weight:
            total += mode_seeking_weight * gan_losses.mode_seeking_loss(
                fake[:half], fake[half:2 * half], z[:half], z[half:2 * half])
        optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
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

  def _critic_update(self, step_key: tf.Tensor, prior_images: tf.Tensor) -> None:
    """`prior_critic_steps` WGAN-GP updates of the prior critic (graph code)."""
    batch, steps = self.batch_size, self.prior_critic_steps
    key = _common.derive_seed(step_key, _PRIOR_STREAM)
    # G is frozen here: the fakes of all critic updates in one call.
    z = tf.random.stateless_normal([steps * batch, self.latent_dim],
                                   seed=_common.derive_seed(key, 0))
    fakes = tf.reshape(self.generator(z, training=True), [steps, batch, *self.image_shape])
    variables = self.critic.trainable_variables
    for i in range(steps):  # Unrolled: part of the one compiled step.
      index = tf.random.stateless_uniform([batch], seed=_common.derive_seed(key, 1, i),
                                          minval=0, maxval=tf.shape(prior_images)[0],
                                          dtype=tf.int32)
      real = tf.gather(prior_images, index)
      alpha = tf.random.stateless_uniform([batch], seed=_common.derive_seed(key, 2, i))
      mixed = gan_losses.interpolate(real, fakes[i], alpha)
      with tf.GradientTape() as tape:
        scores = self.critic(tf.concat([real, fakes[i]], axis=0), training=True)
        real_scores, fake_scores = tf.split(scores, 2, axis=0)
        with tf.GradientTape() as gp_tape:
          gp_tape.watch(mixed)
          mixed_scores = self.critic(mixed, training=True)
        penalty = gan_losses.penalty_from_gradients(gp_tape.gradient(mixed_scores, mixed))
        loss = gan_losses.critic_loss(real_scores, fake_scores) + _GP_WEIGHT * penalty
      self.critic_optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

  def train_generator(self, classifier: tf.keras.Model, *, steps: int, round_num: int,
                      prior_images=None) -> dict[str, float]:
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
      prior_images: with `prior_weight > 0`, the attacker's own real images
        (N, H, W, C) in [-1, 1] the prior critic learns from; else unused.

    Returns:
      {'generator_loss': the cross-entropy of the last step,
       'target_confidence': the classifier's mean softmax probability of
       `target_class` on the last step's batch} (both computed before that
      step's update, on G in training mode).

    Raises:
      ValueError: bad `steps` / `round_num` / `prior_images`, or a classifier
        whose input or output shape does not fit.
    """
    steps = checks.check_int(steps, 'steps', 1)
    round_num = checks.check_int(round_num, 'round_num', 0)
    if self.prior_weight:
      if prior_images is None:
        raise ValueError('`prior_images` are needed with prior_weight > 0: the critic learns '
                         'real images from them.')
      prior_images = images_lib.check_images(prior_images, 'prior_images',
                                             image_shape=self.image_shape)
    else:
      prior_images = np.zeros((0, *self.image_shape), np.float32)
    if self._train_fn is None or self._train_fn_classifier is not classifier:
      self._check_classifier(classifier)
      self._train_fn = self._build_train_fn(classifier)
      self._train_fn_classifier = classifier
    loss, confidence = self._train_fn(
        tf.constant(steps, tf.int64), tf.constant(round_num, tf.int64),
        tf.constant(prior_images, tf.float32))
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
    # order, then the optimizer's (iterations, first and second moments);
    # then the same for the prior critic, if any.
    state = list(self.generator.weights) + list(self.optimizer.variables)
    if self.critic is not None:
      state += list(self.critic.weights) + list(self.critic_optimizer.variables)
    return state

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
      arrays.append(value.astype(tf.as_dtype(variable.dtype).as_numpy_dtype, copy=False))
    for variable, value in zip(variables, arrays):
      variable.assign(value)
