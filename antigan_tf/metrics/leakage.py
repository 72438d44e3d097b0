"""Leakage reports: how much of the victim's class the attacker recovered.

`leakage_report` scores an attacker's reconstructions against the victim's
real images of the target class:

* nn_ssim_mean / nn_ssim_p95: each reconstruction's highest SSIM to any real
  target image (1 = an exact copy), averaged and at the 95th percentile. The
  p95 shows whether at least a few reconstructions come close to a real image.
* nn_psnr_mean / nn_psnr_p95: the same with PSNR in dB (+inf for exact copies,
  see `similarity.summarize`).
* with an oracle (a classifier trained on the real data, `oracle.py`):
  - oracle_rate: fraction of reconstructions the oracle labels as the target
    class (does it *look like* the class?);
  - oracle_confidence: the oracle's mean probability for the target class;
  - frechet_distance: Fréchet distance between the oracle's penultimate
    features of the reconstructions and of the real target images (do they
    look like the class *as a distribution*? 0 = indistinguishable).

`defended_data_report` describes the defender's own obfuscated set X' against
X: pixel variances (the quantity Anti-GAN's L_obf pushes up or down) and how
close each X' image comes to a real one.
"""

import collections
from typing import Optional

import numpy as np

from antigan_tf.metrics import _validation
from antigan_tf.metrics import frechet
from antigan_tf.metrics import similarity
from antigan_tf.metrics.oracle import Oracle
from antigan_tf.utils import checks


def _check_oracle(oracle) -> Oracle:
  if not isinstance(oracle, Oracle):
    raise ValueError(f'`oracle` must be an antigan_tf.metrics.Oracle (see '
                     f'`load_or_train_oracle`), got {type(oracle).__name__}.')
  return oracle


def _check_target_class(target_class, oracle: Oracle) -> int:
  target_class = checks.check_int(target_class, 'target_class', 0)
  if target_class >= oracle.num_classes:
    raise ValueError(f'`target_class` is {target_class} but the oracle has '
                     f'{oracle.num_classes} classes.')
  return target_class


def oracle_rate_and_confidence(oracle: Oracle, reconstructions, target_class: int) -> dict:
  """How often, and how surely, the oracle sees the target class.

  Args:
    oracle: the leakage oracle.
    reconstructions: (N, H, W, C) images in [-1, 1], the oracle's image shape.
    target_class: the victim's class, in [0, oracle.num_classes).

  Returns:
    dict(oracle_rate=fraction of images whose argmax is `target_class`,
    oracle_confidence=mean softmax probability of `target_class`).

  Raises:
    ValueError: not an `Oracle`, a bad `target_class`, or invalid images.
  """
  oracle = _check_oracle(oracle)
  target_class = _check_target_class(target_class, oracle)
  images = _validation.check_images(reconstructions, 'reconstructions',
                                    image_shape=oracle.image_shape)
  probs = oracle.predict_proba(images)
  return {
      'oracle_rate': float(np.mean(np.argmax(probs, axis=1) == target_class)),
      'oracle_confidence': float(np.mean(probs[:, target_class])),
  }


def leakage_report(
    reconstructions,
    real_target_images,
    *,
    oracle: Optional[Oracle] = None,
    target_class: Optional[int] = None,
) -> collections.OrderedDict:
  """Image-space (and, with an oracle, class-level) leakage of the target class.

  The nearest-neighbour scores compare all N x M pairs (about a minute per
  6 million 28x28 pairs on two CPU cores); subsample large sets.

  Args:
    reconstructions: (N, H, W, C) attacker images in [-1, 1].
    real_target_images: (M, H, W, C) the victim's real images of the target
      class, in [-1, 1] (e.g. its training images of that class).
    oracle: optional leakage oracle; adds oracle_rate, oracle_confidence and
      frechet_distance. Needs N >= 2 and M >= 2 (covariances).
    target_class: the victim's class; required with `oracle`, not allowed
      without (it would be silently unused).

  Returns:
    OrderedDict with nn_ssim_mean, nn_ssim_p95, nn_psnr_mean, nn_psnr_p95 and,
    with an oracle, oracle_rate, oracle_confidence, frechet_distance (floats;
    the PSNR entries can be +inf).

  Raises:
    ValueError: invalid or empty image sets, different image shapes, a
      missing/superfluous `target_class`, a bad oracle, or fewer than 2 images
      in a set when an oracle is given.
  """
  reconstructions, real = _validation.check_image_pair(
      reconstructions, real_target_images, ('reconstructions', 'real_target_images'))
  if oracle is None and target_class is not None:
    raise ValueError('`target_class` is only used with `oracle`; pass an oracle too (or drop '
                     '`target_class`).')
  if oracle is not None:
    oracle = _check_oracle(oracle)
    if target_class is None:
      raise ValueError('`target_class` is required when `oracle` is given.')
    target_class = _check_target_class(target_class, oracle)
    if reconstructions.shape[1:] != oracle.image_shape:
      raise ValueError(f'`reconstructions` images have shape {reconstructions.shape[1:]}, but '
                       f'the oracle takes {oracle.image_shape}.')
    for name, images in (('reconstructions', reconstructions), ('real_target_images', real)):
      if len(images) < 2:
        raise ValueError(f'`{name}` has {len(images)} image(s); the Fréchet distance needs at '
                         'least 2 (use more images, or no oracle).')
  report = collections.OrderedDict()
  ssim = similarity.summarize(similarity.nearest_neighbour_ssim(reconstructions, real))
  report['nn_ssim_mean'], report['nn_ssim_p95'] = ssim['mean'], ssim['p95']
  psnr = similarity.summarize(similarity.nearest_neighbour_psnr(reconstructions, real))
  report['nn_psnr_mean'], report['nn_psnr_p95'] = psnr['mean'], psnr['p95']
  if oracle is not None:
    report.update(oracle_rate_and_confidence(oracle, reconstructions, target_class))
    report['frechet_distance'] = frechet.frechet_distance(
        oracle.features(reconstructions), oracle.features(real))
  return report


def defended_data_report(x_prime, x) -> collections.OrderedDict:
  """The defender's obfuscated set X' compared with its real set X.

  The SSIM compares all N x M pairs; subsample large sets (6000 x 6000 28x28
  images take several minutes).

  Args:
    x_prime: (N, H, W, C) obfuscated images X' in [-1, 1].
    x: (M, H, W, C) real images X in [-1, 1].

  Returns:
    OrderedDict with pixel_variance_x, pixel_variance_x_prime (the paper's
    Var(G(z)): per-image pixel variance, averaged), pixel_variance_ratio
    (X' over X: > 1 sharper/more contrast, < 1 greyer), nn_ssim_mean and
    nn_ssim_p95 (each X' image's highest SSIM to any X image).

  Raises:
    ValueError: invalid or empty image sets, different image shapes, or X
      with zero pixel variance (every image constant: the ratio is undefined).
  """
  x_prime, x = _validation.check_image_pair(x_prime, x, ('x_prime', 'x'))
  variance_x = similarity.pixel_variance(x)
  variance_x_prime = similarity.pixel_variance(x_prime)
  if variance_x == 0.0:
    raise ValueError('`x` has zero pixel variance (every image is constant), so '
                     'pixel_variance_ratio is undefined.')
  report = collections.OrderedDict()
  report['pixel_variance_x'] = variance_x
  report['pixel_variance_x_prime'] = variance_x_prime
  report['pixel_variance_ratio'] = variance_x_prime / variance_x
  ssim = similarity.summarize(similarity.nearest_neighbour_ssim(x_prime, x))
  report['nn_ssim_mean'], report['nn_ssim_p95'] = ssim['mean'], ssim['p95']
  return report
