"""Keras model builders: the shared classifier and the DCGAN-style GAN pair.

Every builder is a plain function returning a functional `tf.keras.Model`, so
the models can be saved, cloned and wrapped by `tff.learning` without custom
objects. Image tensors are in [-1, 1] with shape (H, W, C).

Built under a mixed Keras policy (`utils.precision.policy_scope`), the hidden
layers compute in bfloat16 while each model's output layer stays float32, so
images, scores and logits, and the losses computed from them, are float32.
"""

from collections.abc import Sequence

import tensorflow as tf

from antigan_tf.utils import checks

_SUPPORTED_CHANNELS = (1, 3)
UPSAMPLINGS = ('transposed', 'resize')


def _check_image_shape(image_shape: Sequence[int], *, argname: str) -> tuple[int, int, int]:
  """Validates an (H, W, C) shape that the DCGAN up/down-sampling supports."""
  try:
    height, width, channels = (int(d) for d in image_shape)
  except (TypeError, ValueError):
    raise ValueError(
        f'`{argname}` must be (height, width, channels), got {image_shape!r}.'
    ) from None
  if channels not in _SUPPORTED_CHANNELS:
    raise ValueError(
        f'`{argname}` must have 1 or 3 channels, got {channels} in '
        f'{tuple(image_shape)}.'
    )
  # Two stride-2 stages: spatial sides must be divisible by 4 (28 -> 7, 32 -> 8).
  if height < 8 or width < 8 or height % 4 or width % 4:
    raise ValueError(
        f'`{argname}` height and width must be multiples of 4 and >= 8 '
        f'(e.g. (28, 28, 1) or (32, 32, 3)), got {tuple(image_shape)}.'
    )
  return height, width, channels


def _check_positive(value: int, *, argname: str) -> int:
  return checks.check_int(value, argname, 1)


def build_classifier(
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    *,
    width: int = 32,
    dense_units: int = 128,
    name: str = 'classifier',
) -> tf.keras.Model:
  """Builds the shared (global) classifier: a small CNN without BatchNorm.

  BatchNorm is left out on purpose: its moving statistics are non-trainable
  state that `tff.learning.models.from_keras_model` would average like weights,
  and the GAN attack uses this model as a discriminator on single batches.

  Args:
    input_shape: (H, W, C) of the images, H and W multiples of 4.
    num_classes: number of output classes.
    width: filters of the first conv layer (the second has twice as many).
    dense_units: units of the hidden dense layer.
    name: Keras model name.

  Returns:
    A functional `tf.keras.Model` mapping images in [-1, 1] to logits of shape
    (batch, num_classes).

  Raises:
    ValueError: on an unsupported shape or a non-positive size.
  """
  shape = _check_image_shape(input_shape, argname='input_shape')
  _check_positive(num_classes, argname='num_classes')
  _check_positive(width, argname='width')
  _check_positive(dense_units, argname='dense_units')
  layers = tf.keras.layers
  inputs = tf.keras.Input(shape=shape, name='image')
  h = layers.Conv2D(width, 5, padding='same', activation='relu')(inputs)
  h = layers.MaxPool2D(2)(h)
  h = layers.Conv2D(2 * width, 5, padding='same', activation='relu')(h)
  h = layers.MaxPool2D(2)(h)
  h = layers.Flatten()(h)
  h = layers.Dense(dense_units, activation='relu')(h)
  logits = layers.Dense(num_classes, name='logits', dtype='float32')(h)
  return tf.keras.Model(inputs, logits, name=name)


def build_generator(
    image_shape: Sequence[int] = (28, 28, 1),
    latent_dim: int = 100,
    *,
    width: int = 64,
    upsampling: str = 'transposed',
    name: str = 'generator',
) -> tf.keras.Model:
  """Builds a DCGAN-style generator z -> image in [-1, 1].

  Dense projection to (H/4, W/4, 4*width), then two x2 upsampling stages with
  BatchNorm and ReLU, and a tanh output (Radford et al.). BatchNorm is fine
  here: only the critic must avoid it under a gradient penalty.

  Args:
    image_shape: (H, W, C) of the generated images, H and W multiples of 4.
    latent_dim: size of the latent vector z.
    width: base number of filters.
    upsampling: 'transposed' (5x5 stride-2 transposed convolutions, DCGAN) or
      'resize' (nearest-neighbour x2 resize, then a 5x5 convolution: every
      output pixel gets the same number of kernel taps, so no checkerboard
      artefacts; Odena et al., 2016, "Deconvolution and checkerboard
      artifacts").
    name: Keras model name.

  Returns:
    A functional `tf.keras.Model` mapping (batch, latent_dim) to
    (batch, H, W, C).

  Raises:
    ValueError: on an unsupported shape or a non-positive size.
  """
  height, width_px, channels = _check_image_shape(image_shape, argname='image_shape')
  _check_positive(latent_dim, argname='latent_dim')
  _check_positive(width, argname='width')
  if upsampling not in UPSAMPLINGS:
    raise ValueError(f'`upsampling` must be one of {UPSAMPLINGS}, got {upsampling!r}.')
  layers = tf.keras.layers
  base_h, base_w = height // 4, width_px // 4
  z = tf.keras.Input(shape=(latent_dim,), name='z')
  h = layers.Dense(base_h * base_w * 4 * width, use_bias=False)(z)
  h = layers.BatchNormalization()(h)
  h = layers.ReLU()(h)
  h = layers.Reshape((base_h, base_w, 4 * width))(h)
  for filters in (2 * width, width):
    if upsampling == 'resize':
      h = layers.UpSampling2D(2, interpolation='nearest')(h)
      h = layers.Conv2D(filters, 5, padding='same', use_bias=False)(h)
    else:
      h = layers.Conv2DTranspose(filters, 5, strides=2, padding='same', use_bias=False)(h)
    h = layers.BatchNormalization()(h)
    h = layers.ReLU()(h)
  images = layers.Conv2D(channels, 5, padding='same', activation='tanh', name='image',
                         dtype='float32')(h)
  return tf.keras.Model(z, images, name=name)


def build_critic(
    image_shape: Sequence[int] = (28, 28, 1),
    *,
    width: int = 64,
    name: str = 'critic',
) -> tf.keras.Model:
  """Builds a DCGAN-style WGAN critic image -> unbounded score.

  No BatchNorm: the WGAN-GP gradient penalty is defined per sample, and batch
  statistics would couple the samples (Gulrajani et al., 2017, sec. 4).

  Args:
    image_shape: (H, W, C) of the images, H and W multiples of 4.
    width: base number of filters.
    name: Keras model name.

  Returns:
    A functional `tf.keras.Model` mapping (batch, H, W, C) to (batch, 1).

  Raises:
    ValueError: on an unsupported shape or a non-positive size.
  """
  shape = _check_image_shape(image_shape, argname='image_shape')
  _check_positive(width, argname='width')
  layers = tf.keras.layers
  images = tf.keras.Input(shape=shape, name='image')
  h = layers.Conv2D(width, 5, strides=2, padding='same')(images)
  h = layers.LeakyReLU(0.2)(h)
  h = layers.Conv2D(2 * width, 5, strides=2, padding='same')(h)
  h = layers.LeakyReLU(0.2)(h)
  h = layers.Flatten()(h)
  score = layers.Dense(1, name='score', dtype='float32')(h)
  return tf.keras.Model(images, score, name=name)


def build_inversion_network(
    image_shape: Sequence[int] = (28, 28, 1),
    *,
    width: int = 32,
    name: str = 'inversion',
) -> tf.keras.Model:
  """Builds a small U-Net that maps defended images back towards real ones.

  Two stride-2 stages down and two nearest-neighbour stages up, with skip
  connections (Ronneberger et al., 2015). The network predicts a residual
  that is added to its input, and the residual's last convolution starts at
  zero, so an untrained network is the identity: training on pairs of an
  identity defense leaves it there.

  Args:
    image_shape: (H, W, C) of the images, H and W multiples of 4.
    width: base number of filters.
    name: Keras model name.

  Returns:
    A functional `tf.keras.Model` mapping (batch, H, W, C) images in
    [-1, 1] to (batch, H, W, C) float32 (unclipped: clip to [-1, 1]).

  Raises:
    ValueError: on an unsupported shape or a non-positive size.
  """
  shape = _check_image_shape(image_shape, argname='image_shape')
  _check_positive(width, argname='width')
  layers = tf.keras.layers

  def conv(h, filters, strides=1):
    h = layers.Conv2D(filters, 3, strides=strides, padding='same')(h)
    return layers.LeakyReLU(0.2)(h)

  images = tf.keras.Input(shape=shape, name='defended_image')
  full = conv(images, width)
  half = conv(full, 2 * width, strides=2)
  quarter = conv(conv(half, 4 * width, strides=2), 4 * width)
  h = layers.UpSampling2D(2, interpolation='nearest')(quarter)
  h = conv(layers.Concatenate()([h, half]), 2 * width)
  h = layers.UpSampling2D(2, interpolation='nearest')(h)
  h = conv(layers.Concatenate()([h, full]), width)
  residual = layers.Conv2D(shape[-1], 3, padding='same', kernel_initializer='zeros',
                           name='residual', dtype='float32')(h)
  inverted = layers.Add(name='inverted_image', dtype='float32')([images, residual])
  return tf.keras.Model(images, inverted, name=name)
