"""The Anti-GAN defense: losses, the WGAN-GP / Anti-GAN models, projection,
mixing and the `Defender` facade. Plain TensorFlow, no TFF."""

from antigan_tf.defense import losses
from antigan_tf.defense.gan import AntiGAN
from antigan_tf.defense.gan import WGANGP
from antigan_tf.defense.mixing import mix_real
from antigan_tf.defense.projection import ProjectionResult
from antigan_tf.defense.projection import project
