"""The Anti-GAN defense: its loss terms, the `AntiGAN` model (a WGAN-GP of
`antigan_tf.gan` with the extra generator terms of eq. 9), projection,
mixing and the `Defender` facade. Plain TensorFlow, no TFF."""

from antigan_tf.defense import losses
from antigan_tf.defense.anti_gan import AntiGAN
from antigan_tf.defense.mixing import mix_real
from antigan_tf.defense.projection import ProjectionResult
from antigan_tf.defense.projection import project
from antigan_tf.defense.defender import Defender
from antigan_tf.defense.defender import DefenderConfig
from antigan_tf.defense.run import DefenderRunResult
from antigan_tf.defense.run import run_defender
