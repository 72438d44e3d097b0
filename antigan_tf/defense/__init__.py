"""The Anti-GAN defense: its loss terms, the `AntiGAN` model (a WGAN-GP of
`antigan_tf.gan` with the extra generator terms of eq. 9), projection,
mixing, the `Defender` facade and its settings. Plain TensorFlow, no TFF.

Exports load lazily, so `antigan_tf.defense.config` imports without TensorFlow.
"""

from antigan_tf.utils import lazy_exports

_EXPORTS = {
    'losses': 'antigan_tf.defense.losses',
    'AntiGAN': 'antigan_tf.defense.anti_gan',
    'mix_real': 'antigan_tf.defense.mixing',
    'ProjectionResult': 'antigan_tf.defense.projection',
    'project': 'antigan_tf.defense.projection',
    'Defender': 'antigan_tf.defense.defender',
    'DefenderConfig': 'antigan_tf.defense.config',
    'DefenderRunConfig': 'antigan_tf.defense.config',
    'DefenderRunResult': 'antigan_tf.defense.run',
    'run_defender': 'antigan_tf.defense.run',
}
__getattr__, __dir__ = lazy_exports.module_attributes(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
