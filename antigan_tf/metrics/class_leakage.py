"""Headline leakage: how much of the target class a set of reconstructions shows.

Scored in the evaluation network's feature space (`evaluation_network`)
against held-out real images of the target class, which no client holds (the
test split):

* frechet_distance: the FID formula on the 128 features (lower = leakier);
* kid: kernel distance (Bińkowski et al., 2018), the unbiased MMD^2 with the
  cubic polynomial kernel k(a, b) = (a.b / d + 1)^3; unbiased at any sample
  count, where the Fréchet distance grows as samples shrink;
* precision / recall (Kynkäänniemi et al., 2019) and density / coverage
  (Naeem et al., 2020), with k-nearest-neighbour balls (k = 5): are the
  samples inside the real manifold (precision, density), and is the real
  manifold covered by them (recall, coverage)? Recall and coverage are
  headline metrics; precision and density are not: 500 copies of one blob
  inside the manifold score about 1 on both.
* confident_rate: the share of samples the network calls the target class at
  least as confidently as the least confident 5% of held-out real images;
  confident_rate_ratio divides it by the held-out images' own rate, so 1
  means as convincing as real images. Shirt-shaped noise can reach 1 here
  (networks are fooled by blobs): it is not a leak measure on its own, and
  reports lead with the Fréchet distance and KID.

`instance_leakage` asks, for each of the victim's private images, whether its
nearest reconstruction is nearer than its nearest public image of the class.
`reference_sets` builds the rows every report puts next to an attacker's:
held-out real images (the ceiling), the nearest other class, the binarised
mean image, uniform noise, black images and noisy blobs.
"""

import collections
from typing import Optional

import numpy as np

from antigan_tf.data import images as images_lib
from antigan_tf.metrics import frechet
from antigan_tf.metrics import similarity
from antigan_tf.metrics.evaluation_network import EvaluationNetwork
from antigan_tf.utils import checks

# Fewer samples than this and the distances are noisy: reports say so.
RECOMMENDED_SAMPLES = 500
NEIGHBOURS = 5
CONFIDENCE_PERCENTILE = 5.0
# Metrics where a lower value means more leakage; the others, higher.
LOWER_IS_LEAKIER = frozenset({'frechet_distance', 'kid'})
# The metrics that rank the reference rows right on real data (held-out real
# images leakiest; blobs, noise, black images and the binarised mean less
# leaky than another class: tests/metrics/test_metrics_evaluation_network.py).
HEADLINE_METRICS = ('frechet_distance', 'kid', 'recall', 'coverage')
# Reported too, but a blob fools them: one image inside the class's manifold
# scores a precision and density of about 1, and a black image is called the
# target class with full confidence.
FOOLED_BY_BLOBS = ('precision', 'density', 'confident_rate_ratio')
REFERENCE_NAMES = ('held_out_real', 'other_class', 'binarised_mean', 'uniform_noise',
                   'black', 'noisy_blob')
# leakage.json key of a reference row: 'reference.held_out_real', ...
REFERENCE_PREFIX = 'reference.'


def kernel_distance(features_a, features_b) -> float:
  """Unbiased MMD^2 between two feature sets, cubic polynomial kernel (KID).

  Args:
    features_a: (N, d) features, N >= 2.
    features_b: (M, d) features, M >= 2.

  Returns:
    The KID estimate (can be slightly negative: it is unbiased).
  """
  a = np.asarray(features_a, np.float64)
  b = np.asarray(features_b, np.float64)
  if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
    raise ValueError(f'Need two (N >= 2, d) feature sets of one d, got {a.shape} and {b.shape}.')
  d = a.shape[1]
  k_aa = (a @ a.T / d + 1.0) ** 3
  k_bb = (b @ b.T / d + 1.0) ** 3
  k_ab = (a @ b.T / d + 1.0) ** 3
  n, m = len(a), len(b)
  return float((k_aa.sum() - np.trace(k_aa)) / (n * (n - 1))
               + (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1)) - 2.0 * k_ab.mean())


def _pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
  return np.sqrt(np.maximum(squared, 0.0))


def _knn_radii(features: np.ndarray, k: int) -> np.ndarray:
  """Distance of each point to its k-th nearest neighbour in the same set."""
  distances = _pairwise_distances(features, features)
  return np.sort(distances, axis=1)[:, min(k, len(features) - 1)]  # Column 0: itself.


def manifold_metrics(real_features, fake_features, *, k: int = NEIGHBOURS) -> dict:
  """Precision, recall (Kynkäänniemi et al.), density and coverage (Naeem et al.).

  Args:
    real_features: (M, d) features of real images, M > k.
    fake_features: (N, d) features of the samples, N > k.
    k: the neighbour whose distance is a point's ball radius.

  Returns:
    dict(precision, recall, density, coverage), floats (density may exceed 1).
  """
  real = np.asarray(real_features, np.float64)
  fake = np.asarray(fake_features, np.float64)
  k = checks.check_int(k, 'k', 1)
  if min(len(real), len(fake)) <= k:
    raise ValueError(f'Need more than k={k} real and fake samples, got {len(real)} and '
                     f'{len(fake)}.')
  real_radii, fake_radii = _knn_radii(real, k), _knn_radii(fake, k)
  fake_to_real = _pairwise_distances(fake, real)  # (N, M)
  inside_real = fake_to_real <= real_radii[None, :]
  return {
      'precision': float(inside_real.any(axis=1).mean()),
      'recall': float((fake_to_real.T <= fake_radii[None, :]).any(axis=1).mean()),
      'density': float(inside_real.sum() / (k * len(fake))),
      'coverage': float((fake_to_real.min(axis=0) <= real_radii).mean()),
  }


def _confident_share(probs: np.ndarray, target_class: int, threshold: float) -> float:
  return float(np.mean((probs.argmax(axis=1) == target_class)
                       & (probs[:, target_class] >= threshold)))


def confident_rate(network: EvaluationNetwork, samples, target_class: int,
                   threshold: float) -> float:
  """Share of samples called `target_class` with probability >= `threshold`."""
  return _confident_share(network.predict_proba(samples), target_class, threshold)


class HeldOut:
  """Held-out real target-class images, prepared once for scoring many sets.

  Attributes:
    images: the images.
    features: their evaluation-network features.
    threshold: the confidence threshold: the 5th percentile of their
      target-class probability.
    own_rate: their own confident rate (the ratio's denominator).
  """

  def __init__(self, network: EvaluationNetwork, images, target_class: int):
    self.network = network
    self.target_class = checks.check_int(target_class, 'target_class', 0)
    if self.target_class >= network.num_classes:
      raise ValueError(f'`target_class` {target_class} is not a class of the evaluation '
                       f'network ({network.num_classes} classes).')
    self.images = images_lib.check_images(images, 'held_out', min_count=NEIGHBOURS + 1,
                                          image_shape=network.image_shape)
    self.features, probs = network.scores(self.images)
    self.threshold = float(np.percentile(probs[:, self.target_class], CONFIDENCE_PERCENTILE))
    self.own_rate = _confident_share(probs, self.target_class, self.threshold)


def class_leakage_report(samples, held_out: HeldOut) -> 'collections.OrderedDict[str, float]':
  """The headline metrics of `samples` against `held_out` (see the module docstring).

  Args:
    samples: (N, H, W, C) images in [-1, 1], N > 5.
    held_out: the prepared held-out real images.

  Returns:
    OrderedDict: num_samples, few_samples (1.0 if N < 500), frechet_distance,
    kid, precision, recall, density, coverage, mean_pairwise_ssim (of the
    first 200 samples; `similarity.mean_pairwise_ssim`), confident_rate and
    confident_rate_ratio.
  """
  samples = images_lib.check_images(samples, 'samples', min_count=NEIGHBOURS + 1,
                                    image_shape=held_out.network.image_shape)
  features, probs = held_out.network.scores(samples)
  report = collections.OrderedDict()
  report['num_samples'] = float(len(samples))
  report['few_samples'] = float(len(samples) < RECOMMENDED_SAMPLES)
  report['frechet_distance'] = frechet.frechet_distance(features, held_out.features)
  report['kid'] = kernel_distance(features, held_out.features)
  report.update(manifold_metrics(held_out.features, features))
  # Diversity, next to the held-out images' own value: a collapsed
  # generator's samples are near copies of each other.
  report['mean_pairwise_ssim'] = similarity.mean_pairwise_ssim(samples)
  rate = _confident_share(probs, held_out.target_class, held_out.threshold)
  report['confident_rate'] = rate
  report['confident_rate_ratio'] = rate / held_out.own_rate if held_out.own_rate else float('nan')
  return report


class InstanceBaseline:
  """The victim's private images and how near the public ones come to each,
  computed once for scoring many attackers' reconstructions.

  Attributes:
    network: the evaluation network (its features give one distance).
    private: (P, H, W, C) the victim's own images of the target class.
    private_features: their features.
    to_public: (P,) each one's feature distance to its nearest public image.
    ssim_public: (P,) each one's SSIM to its most similar public image.
  """

  def __init__(self, network: EvaluationNetwork, private, public):
    shape = network.image_shape
    self.network = network
    self.private = images_lib.check_images(private, 'private', image_shape=shape)
    public = images_lib.check_images(public, 'public', image_shape=shape)
    self.private_features = network.features(self.private)
    self.to_public = _pairwise_distances(self.private_features,
                                         network.features(public)).min(axis=1)
    self.ssim_public = similarity.nearest_neighbour_ssim(self.private, public)


def instance_leakage(baseline: InstanceBaseline, reconstructions
                     ) -> 'collections.OrderedDict[str, float]':
  """Per private image: is its nearest reconstruction nearer than its nearest public image?

  Args:
    baseline: the private images and their public neighbours.
    reconstructions: (N, H, W, C) the attacker's images.

  Returns:
    OrderedDict(instance_leak_rate_features, instance_leak_rate_ssim): the
    fraction of private images for which the reconstructions come nearer,
    in feature distance and in SSIM.
  """
  network = baseline.network
  reconstructions = images_lib.check_images(reconstructions, 'reconstructions',
                                            image_shape=network.image_shape)
  to_recon = _pairwise_distances(baseline.private_features,
                                 network.features(reconstructions)).min(axis=1)
  ssim_recon = similarity.nearest_neighbour_ssim(baseline.private, reconstructions)
  return collections.OrderedDict(
      instance_leak_rate_features=float(np.mean(to_recon < baseline.to_public)),
      instance_leak_rate_ssim=float(np.mean(ssim_recon > baseline.ssim_public)))


def nearest_other_class(network: EvaluationNetwork, x, y, target_class: int) -> int:
  """The class whose mean feature lies nearest the target class's."""
  features = network.features(x)
  means = {c: features[y == c].mean(axis=0) for c in np.unique(y)}
  target = means.pop(int(target_class))
  return int(min(means, key=lambda c: float(np.linalg.norm(means[c] - target))))


def split_held_out(x_test, y_test, target_class: int, *, seed: int = 0):
  """(scoring half, reference half) of the test split's target-class images, seeded."""
  images = np.asarray(x_test)[np.asarray(y_test) == target_class]
  order = np.random.default_rng(seed).permutation(len(images))
  half = len(images) // 2
  return images[order[:half]], images[order[half:]]


def reference_sets(reference_half, other_class_images, *, count: Optional[int] = None,
                   seed: int = 0) -> 'collections.OrderedDict[str, np.ndarray]':
  """The reference image sets, `count` images each (default: the reference half's size).

  Args:
    reference_half: held-out real target images not used for scoring.
    other_class_images: real images of the nearest other class.
    count: images per set.
    seed: seed of the noise sets.

  Returns:
    OrderedDict name -> images, names as in `REFERENCE_NAMES`.
  """
  real = images_lib.check_images(reference_half, 'reference_half')
  count = len(real) if count is None else min(checks.check_int(count, 'count', 2), len(real))
  rng = np.random.default_rng(seed)
  mean = real.mean(axis=0, keepdims=True)
  shape = (count, *real.shape[1:])
  sets = collections.OrderedDict()
  sets['held_out_real'] = real[:count]
  sets['other_class'] = images_lib.check_images(other_class_images, 'other_class_images')[:count]
  sets['binarised_mean'] = np.repeat(np.where(mean > 0, 1.0, -1.0), count, 0).astype(np.float32)
  sets['uniform_noise'] = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
  sets['black'] = np.full(shape, -1.0, np.float32)
  sets['noisy_blob'] = np.clip(mean + rng.normal(0.0, 0.3, shape), -1, 1).astype(np.float32)
  return sets


def reference_rows(held_out: HeldOut, reference_half, other_class_images, *, count: int,
                   seed: int = 0) -> 'collections.OrderedDict[str, dict]':
  """`class_leakage_report` of each reference set (`reference_sets`)."""
  sets = reference_sets(reference_half, other_class_images, count=count, seed=seed)
  return collections.OrderedDict(
      (name, class_leakage_report(images, held_out)) for name, images in sets.items())
