"""The GAN machinery shared by the defense, the attacks and the metrics.

* `WGANGP`: the WGAN-GP of Gulrajani et al. (2017) as a Keras model
  (`compile(generator_optimizer=..., critic_optimizer=...)`, `fit(...)`), with
  a hook for extra generator loss terms.
* `losses`: its losses as pure functions of tensors (critic and generator
  losses, Wasserstein estimate, gradient penalty) and `pixel_variance`.
* Callbacks that watch training: `ImageGridCallback`, `StepCSVLogger`,
  `NonFiniteLossGuard` (raises `NonFiniteLossError`).
* `image_grid` / `save_image_grid`: images tiled into one PNG.

Sits below `attack`, `defense` and `metrics`: it imports only
`antigan_tf.models`, `antigan_tf.utils` and `antigan_tf.data`. Plain
TensorFlow, no TFF.
"""

from antigan_tf.gan import losses
from antigan_tf.gan.callbacks import ImageGridCallback
from antigan_tf.gan.callbacks import NonFiniteLossError
from antigan_tf.gan.callbacks import NonFiniteLossGuard
from antigan_tf.gan.callbacks import StepCSVLogger
from antigan_tf.gan.image_grids import image_grid
from antigan_tf.gan.image_grids import save_image_grid
from antigan_tf.gan.wgan_gp import WGANGP
