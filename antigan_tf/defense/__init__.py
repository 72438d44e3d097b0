"""The Anti-GAN defense: losses, the WGAN-GP / Anti-GAN models, projection,
mixing and the `Defender` facade. Plain TensorFlow, no TFF."""

from antigan_tf.defense import losses
from antigan_tf.defense.gan import AntiGAN
from antigan_tf.defense.gan import WGANGP
from antigan_tf.defense.mixing import mix_real
from antigan_tf.defense.projection import ProjectionResult
from antigan_tf.defense.projection import project
from antigan_tf.defense.defender import Defender
from antigan_tf.defense.defender import DefenderConfig
from antigan_tf.defense.monitoring import ImageGridCallback
from antigan_tf.defense.monitoring import NonFiniteLossError
from antigan_tf.defense.monitoring import NonFiniteLossGuard
from antigan_tf.defense.monitoring import StepCSVLogger
from antigan_tf.defense.monitoring import save_image_grid
from antigan_tf.defense.run import DefenderRunResult
from antigan_tf.defense.run import run_defender
