"""The adaptive attacker: it knows the defense and learns to undo it.

A defense is credible only against an attacker who knows how it works
(Kerckhoffs's principle; Tramèr et al., "On Adaptive Attacks to Adversarial
Example Defenses", 2020). This attacker holds real images of its own classes
(no image of the target class). It runs the victim's defense, with the same
public algorithm and settings, on them, which gives it pairs
(x' = defense(x), x); it trains an inversion network on those pairs (a small
U-Net, L1 loss), and applies it to what the other attackers reconstructed of
the target class. The inverted images are scored like any reconstruction.

```python
defended, originals = baseline_pairs('gaussian_blur', own_x, own_y, strength=1.0)
result = train_inversion_network(defended, originals, steps=2000)
inverted = invert(result.network, black_box_samples)
```

A defense that shares the real images (none, DP-FedAvg: a protocol-level
defense) gives pairs (x, x), and the inversion is the identity: there the
adaptive attacker is the black-box one.
"""

from typing import NamedTuple, Optional

import numpy as np
import tensorflow as tf

from antigan_tf import layout as layout_lib
from antigan_tf.data import images as images_lib
from antigan_tf.defense import baselines as baselines_lib
from antigan_tf.defense import defender as defender_lib
from antigan_tf.defense import mixing
from antigan_tf.defense.config import DefenderConfig
from antigan_tf.models import builders
from antigan_tf.models import seeding
from antigan_tf.utils import checks
from antigan_tf.utils import keras_compat
from antigan_tf.utils import precision as precision_lib

# `seeded_initialize` stream of the inversion network.
_INVERSION_INIT_STREAM = 4
# Share of the pairs held out to measure the inversion and stop its training
# (when there are 10 pairs or more).
VALIDATION_FRACTION = 0.1
# Steps per Keras epoch, and epochs without a better held-out L1 before stopping.
_CHUNK_STEPS = 100
PATIENCE_CHUNKS = 3


class InversionResult(NamedTuple):
  """What `train_inversion_network` returns.

  Attributes:
    network: the trained Keras model, defended images to (unclipped) images;
      use `invert`.
    history: 'step' and 'l1' (the training loss, mean over each chunk of
      steps: the largest divisor of `steps` up to 100) and, with held-out
      pairs, 'held_out_l1' after each chunk.
    validation: on the held-out pairs, 'l1_defended' (mean |x' - x|, what the
      defense leaves) and 'l1_inverted' (mean |inverted - x|, with the
      weights kept), and 'num_pairs'; empty when there are fewer than 10
      pairs. Training stops on them, so 'l1_inverted' is slightly optimistic:
      the target class, which the attacker never saw, is the real test.
  """
  network: tf.keras.Model
  history: dict[str, list[float]]
  validation: dict[str, float]


def baseline_pairs(name: str, x, y, *, strength=None,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """The adversary's pairs under a baseline defense of `antigan_tf.defense.baselines`.

  Args:
    name: one of `baselines.BASELINES` other than 'drop_class' (which
      shares nothing, so gives no pair).
    x: the adversary's (N, H, W, C) images in [-1, 1].
    y: their (N,) labels (every class is transformed).
    strength: the baseline's strength, as the victim's.
    seed: seed of the noise (the adversary's own).

  Returns:
    (defended, originals), float32, aligned: defended[i] = defense(x[i]).

  Raises:
    ValueError: 'drop_class', an unknown name or a bad strength.
  """
  if name == 'drop_class':
    raise ValueError('drop_class shares no image: it gives the adaptive attacker no pair.')
  x = images_lib.check_images(x, 'x')
  y = np.asarray(y)
  # Every image is of a protected class, so the order is kept.
  defended, _ = baselines_lib.apply_baseline(name, x, y, protected_classes=np.unique(y),
                                             strength=strength, seed=seed)
  return defended.astype(np.float32), x


def anti_gan_pairs(config: DefenderConfig, x, y, *, precision: str = 'float32',
                   work_dir: Optional[str] = None,
                   progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
  """The adversary's pairs under Anti-GAN, with the victim's settings.

  As the victim does for its class, one `Defender` is trained per class on
  the adversary's images of it, and each image is projected onto it. With
  a mix ratio > 0 the images the defense would share real pair with
  themselves: with 'replace', those `mixing.replace_split` picks; with 'add',
  round(MR * N) images drawn as `mixing.mix_real` does, besides every
  projection.

  Args:
    config: the victim's `DefenderConfig` (public settings).
    x: the adversary's (N, H, W, C) images in [-1, 1].
    y: their (N,) integer labels.
    precision: the defenders' Keras policy (`utils.precision`).
    work_dir: where each defender keeps its checkpoints (`class_<c>/`, and
      training resumes from them); None keeps nothing.
    progress: Keras and projection progress bars.

  Returns:
    (defended, originals), float32, aligned.
  """
  x = images_lib.check_images(x, 'x')
  y = np.asarray(y)
  defended, originals = [], []
  for label in np.unique(y):
    x_c, y_c = x[y == label], y[y == label]
    defender = defender_lib.Defender(x.shape[1:], config, precision=precision)
    class_dir = None if work_dir is None else layout_lib.defender_class_dir(work_dir, int(label))
    defender.fit(x_c, output_dir=class_dir, verbose=1 if progress else 0)
    mix_ratio, real = config.mix_ratio, np.zeros(0, int)
    if mix_ratio > 0 and config.mix_mode == 'replace':
      projected, real = mixing.replace_split(len(x_c), mix_ratio=mix_ratio, seed=config.seed)
    else:
      projected = np.arange(len(x_c))
    x_prime, _ = defender.obfuscate(x_c[projected], y_c[projected], mix_ratio=0,
                                    progress=progress)
    if mix_ratio > 0 and config.mix_mode == 'add':
      real = mixing.added_real(len(x_c), len(x_c), mix_ratio=mix_ratio, seed=config.seed)
    defended += [x_prime, x_c[real]]
    originals += [x_c[projected], x_c[real]]
  return np.concatenate(defended).astype(np.float32), np.concatenate(originals)


def train_inversion_network(
    defended,
    originals,
    *,
    steps: int,
    batch_size: int = 64,
    width: int = 32,
    learning_rate: float = 1e-3,
    seed: int = 0,
    precision: str = 'float32',
    progress: bool = False,
) -> InversionResult:
  """Trains `builders.build_inversion_network` on (defended, original) pairs.

  L1 loss (`mean_absolute_error`), Adam, Keras `fit` on full batches of the
  training pairs, reshuffled each pass. A tenth of the pairs (when there
  are 10 or more) is held out: after each chunk of steps (100 when `steps`
  is a multiple of 100) the held-out L1 is
  measured, training stops once it has not improved for 3 of them
  (`EarlyStopping`), and the best weights are kept.

  Args:
    defended: (N, H, W, C) defended images x' in [-1, 1].
    originals: (N, H, W, C) the images they were made from, aligned.
    steps: the most optimizer steps (>= 1).
    batch_size: pairs per step (>= 1); N may be smaller (pairs repeat).
    width: base filters of the network (>= 1).
    learning_rate: Adam step size (> 0).
    seed: integer >= 0: weights, the held-out split and the data order.
    precision: the network's Keras policy (`utils.precision`).
    progress: Keras's progress bar.

  Returns:
    An `InversionResult`.

  Raises:
    ValueError: bad images, pairs of different shapes, or a bad argument.
  """
  steps = checks.check_int(steps, 'steps', 1)
  batch_size = checks.check_int(batch_size, 'batch_size', 1)
  learning_rate = checks.check_positive_float(learning_rate, 'learning_rate')
  seed = checks.check_int(seed, 'seed', 0)
  defended = images_lib.check_images(defended, 'defended')
  originals = images_lib.check_images(originals, 'originals', image_shape=defended.shape[1:])
  if len(originals) != len(defended):
    raise ValueError(f'`defended` has {len(defended)} images but `originals` has '
                     f'{len(originals)}: they must be aligned pairs.')
  order = np.random.default_rng(seed).permutation(len(defended))
  held = order[:int(len(order) * VALIDATION_FRACTION)] if len(order) >= 10 else order[:0]
  train = np.setdiff1d(order, held)
  with precision_lib.policy_scope(precision):
    network = builders.build_inversion_network(defended.shape[1:], width=width)
  seeding.seeded_initialize(network, seed, _INVERSION_INIT_STREAM)
  network.compile(optimizer=keras_compat.adam(learning_rate),
                  loss='mean_absolute_error')
  dataset = (tf.data.Dataset.from_tensor_slices((defended[train], originals[train]))
             .shuffle(len(train), seed=seed, reshuffle_each_iteration=True)
             .repeat().batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
  # Chunks of steps as Keras epochs: a loss curve, and a held-out check each chunk.
  # The largest divisor of `steps` up to 100, so that exactly `steps` run.
  chunk = max(d for d in range(1, min(steps, _CHUNK_STEPS) + 1) if steps % d == 0)
  callbacks, validation_data, stopper = [], None, None
  if len(held):
    # A few hundred pairs overfit within a few hundred steps (benchmarks/
    # bench_adaptive.py): keep the weights that invert the held-out pairs best.
    stopper = tf.keras.callbacks.EarlyStopping(
        monitor='val_loss', patience=PATIENCE_CHUNKS, restore_best_weights=True)
    callbacks.append(stopper)
    validation_data = (defended[held], originals[held])
  # shuffle=False: the dataset shuffles itself (Keras 3 warns otherwise).
  fitted = network.fit(dataset, epochs=steps // chunk, steps_per_epoch=chunk, shuffle=False,
                       validation_data=validation_data, callbacks=callbacks,
                       verbose=1 if progress else 0)
  if stopper is not None and not stopper.stopped_epoch and stopper.best_weights is not None:
    network.set_weights(stopper.best_weights)  # Keras 2 restores only when it stops early.
  logged = fitted.history
  history = {'step': [chunk * (i + 1) for i in range(len(logged['loss']))],
             'l1': [float(v) for v in logged['loss']]}
  if 'val_loss' in logged:
    history['held_out_l1'] = [float(v) for v in logged['val_loss']]
  validation = {}
  if len(held):
    inverted = invert(network, defended[held])
    validation = {'num_pairs': len(held),
                  'l1_defended': float(np.mean(np.abs(defended[held] - originals[held]))),
                  'l1_inverted': float(np.mean(np.abs(inverted - originals[held])))}
  return InversionResult(network, history, validation)


def invert(network: tf.keras.Model, images, *, batch_size: int = 256) -> np.ndarray:
  """The inversion network on `images`, float32 in [-1, 1] (clipped)."""
  images = images_lib.check_images(images, 'images')
  batch_size = checks.check_int(batch_size, 'batch_size', 1)
  out = [network(images[start:start + batch_size], training=False).numpy()
         for start in range(0, len(images), batch_size)]
  return np.clip(np.concatenate(out), -1.0, 1.0).astype(np.float32)
