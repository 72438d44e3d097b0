"""Leakage reports: how much of the victim's class the attacker recovered.

`leakage_report` scores an attacker's reconstructions against the victim's
real images of the target class:

* nn_ssim_mean / nn_ssim_p95: each reconstruction's highest SSIM to any real
  target image (1 = an exact copy), averaged and at the 95th percentile. The
  p95 shows whether at least a few reconstructions come close to a real image.
* nn_psnr_mean / nn_psnr_p95: the same with PSNR in dB (+inf for exact copies,
  see `similarity.summarize`).

The class-level headline (does the set show the class at all?) is in
`class_leakage`, judged by the evaluation network.

`defended_data_report` describes the defender's own obfuscated set X' against
X: pixel variances (the quantity Anti-GAN's L_obf pushes up or down), the
share of saturated pixels, the diversity within each set and how close each
X' image comes to a real one. `split_real_copies` separates, in a shared set,
the victim's real images (mixed in) from the generated ones.
"""

import collections

import numpy as np

from antigan_tf.metrics import _validation
from antigan_tf.metrics import similarity

# |pixel| above this counts as saturated (black or white): a tanh output
# pushed there by the variance term.
SATURATION_THRESHOLD = 0.95


def leakage_report(reconstructions, real_target_images) -> collections.OrderedDict:
  """Image-space leakage: how close reconstructions come to the victim's images.

  The nearest-neighbour scores compare all N x M pairs (about a minute per
  6 million 28x28 pairs on two CPU cores); subsample large sets.

  Args:
    reconstructions: (N, H, W, C) attacker images in [-1, 1].
    real_target_images: (M, H, W, C) the victim's real images of the target
      class, in [-1, 1] (e.g. its training images of that class).

  Returns:
    OrderedDict with nn_ssim_mean, nn_ssim_p95, nn_psnr_mean, nn_psnr_p95
    (floats; the PSNR entries can be +inf).

  Raises:
    ValueError: invalid or empty image sets, or different image shapes.
  """
  reconstructions, real = _validation.check_image_pair(
      reconstructions, real_target_images, ('reconstructions', 'real_target_images'))
  report = collections.OrderedDict()
  ssim = similarity.summarize(similarity.nearest_neighbour_ssim(reconstructions, real))
  report['nn_ssim_mean'], report['nn_ssim_p95'] = ssim['mean'], ssim['p95']
  psnr = similarity.summarize(similarity.nearest_neighbour_psnr(reconstructions, real))
  report['nn_psnr_mean'], report['nn_psnr_p95'] = psnr['mean'], psnr['p95']
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
    (X' over X: > 1 sharper/more contrast, < 1 greyer), saturated_share_x
    and _x_prime (`saturated_share`), mean_pairwise_ssim_x and _x_prime
    (diversity, `similarity.mean_pairwise_ssim`: higher is less diverse; both
    sets need 2 images or more), nn_ssim_mean and nn_ssim_p95 (each X'
    image's highest SSIM to any X image).

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
  report['saturated_share_x'] = saturated_share(x)
  report['saturated_share_x_prime'] = saturated_share(x_prime)
  if len(x) >= 2 and len(x_prime) >= 2:
    report['mean_pairwise_ssim_x'] = similarity.mean_pairwise_ssim(x)
    report['mean_pairwise_ssim_x_prime'] = similarity.mean_pairwise_ssim(x_prime)
  ssim = similarity.summarize(similarity.nearest_neighbour_ssim(x_prime, x))
  report['nn_ssim_mean'], report['nn_ssim_p95'] = ssim['mean'], ssim['p95']
  return report


def saturated_share(images) -> float:
  """The share of pixels with |x| > `SATURATION_THRESHOLD` (black or white)."""
  images = _validation.check_images(images, 'images')
  return float(np.mean(np.abs(images) > SATURATION_THRESHOLD))


def split_real_copies(shared, real) -> tuple[np.ndarray, np.ndarray]:
  """Which shared images are exact copies of real ones (mixed in, MR > 0).

  Args:
    shared: (N, H, W, C) what the victim shares of a class.
    real: (M, H, W, C) its real images of that class.

  Returns:
    (generated, copies): the shared images that are not byte-identical to
    any real image, and those that are, in the order of `shared`.
  """
  shared = np.asarray(shared, np.float32)
  real = np.asarray(real, np.float32)
  known = {image.tobytes() for image in real}
  is_copy = np.array([image.tobytes() in known for image in shared], bool)
  return shared[~is_copy], shared[is_copy]
