"""The Anti-GAN defense: losses, the WGAN-GP / Anti-GAN models, projection,
mixing and the `Defender` facade. Plain TensorFlow, no TFF.

Exports load lazily, so `antigan_tf.defense.config` imports without TensorFlow.
"""

from antigan_tf.utils import lazy_exports

_EXPORTS = {
    'losses': 'antigan_tf.defense.losses',
    'AntiGAN': 'antigan_tf.defense.gan',
    'WGANGP': 'antigan_tf.defense.gan',
    'mix_real': 'antigan_tf.defense.mixing',
    'ProjectionResult': 'antigan_tf.defense.projection',
    'project': 'antigan_tf.defense.projection',
    'Defender': 'antigan_tf.defense.defender',
    'DefenderConfig': 'antigan_tf.defense.config',
    'DefenderRunConfig': 'antigan_tf.defense.config',
    'ImageGridCallback': 'antigan_tf.defense.monitoring',
    'NonFiniteLossError': 'antigan_tf.defense.monitoring',
    'NonFiniteLossGuard': 'antigan_tf.defense.monitoring',
    'StepCSVLogger': 'antigan_tf.defense.monitoring',
    'save_image_grid': 'antigan_tf.defense.monitoring',
    'DefenderRunResult': 'antigan_tf.defense.run',
    'run_defender': 'antigan_tf.defense.run',
}
__getattr__, __dir__ = lazy_exports.module_attributes(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
