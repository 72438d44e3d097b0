"""Model builders: the shared classifier and the GAN generator/critic pair."""

from antigan_tf.models.builders import build_classifier
from antigan_tf.models.builders import build_critic
from antigan_tf.models.builders import build_generator
