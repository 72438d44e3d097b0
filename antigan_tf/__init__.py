"""antigan_tf: Anti-GAN defenses against GAN-based feature inference in FL.

`import antigan_tf` pulls in plain TensorFlow only. TensorFlow Federated is
imported by `antigan_tf.federated` alone, so the data, models and defense can be
used in ordinary TF/Keras pipelines without TFF installed.
"""

from antigan_tf.version import __version__
