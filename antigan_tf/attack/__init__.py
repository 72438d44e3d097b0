"""GAN-based feature-inference attackers, to evaluate the Anti-GAN defense.

* `GanAttacker`: the adversarial participant of Hitaj et al. (2017), the
  threat model of Luo & Zhu (sec. 3.1). Each round it trains a generator
  against the current global classifier (frozen, used as the discriminator)
  so that the classifier assigns its images to the victim's class, and
  injects those images into its own local training data under one of its own
  labels. Only the generator side lives here; the federated wiring is done by
  the caller with Keras models and numpy arrays.
* `train_black_box_attacker`: the stronger attacker of the paper's
  experiments (sec. 4), with black-box access to what the victim feeds into
  the federation (the obfuscated X' when defended, the private X otherwise).
  It trains its own WGAN-GP on those images; its samples (`BlackBoxResult.
  reconstructions`) are what the defense is judged on.
* `adaptive`: the attacker that knows the defense. It runs the defense on
  its own classes (`baseline_pairs`, `anti_gan_pairs`), trains an inversion
  network on the (defended, original) pairs (`train_inversion_network`) and
  `invert`s the other attackers' reconstructions.

Plain TensorFlow: importing this package does not import TensorFlow
Federated.
"""

from antigan_tf.attack import adaptive
from antigan_tf.attack.adaptive import InversionResult
from antigan_tf.attack.adaptive import invert
from antigan_tf.attack.adaptive import train_inversion_network
from antigan_tf.attack.black_box import BlackBoxResult
from antigan_tf.attack.black_box import train_black_box_attacker
from antigan_tf.attack.gan_attack import GanAttacker
