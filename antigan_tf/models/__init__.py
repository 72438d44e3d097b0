"""Model builders: the shared classifier, the GAN generator/critic pair and
the adaptive attacker's inversion network."""

from antigan_tf.models.builders import build_classifier
from antigan_tf.models.builders import build_critic
from antigan_tf.models.builders import build_generator
from antigan_tf.models.builders import build_inversion_network
