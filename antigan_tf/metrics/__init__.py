"""Metrics that measure what the Anti-GAN paper judged by eye.

Luo & Zhu show reconstructed and obfuscated images and call them
"indistinguishable" or not by looking at them, and measure utility with RIAFI
only. These metrics put numbers on both sides of the trade-off, for one
victim class at a time. Plain TensorFlow/numpy/scipy: no TFF. All images are
(N, H, W, C) float arrays in [-1, 1]; every function checks its arguments and
raises ValueError naming the bad one.

Utility (does the obfuscated data X' still teach the classifier?):
  `riafi`: accuracy on real target-class images of a model trained on X'
    (the paper's Real-Image Accuracy from Fake Images); `riafi_ratio`:
    defended / undefended RIAFI; `central_riafi`: the paper's protocol in
    full (train a fresh classifier centrally on the data with X' in place of
    X, test on real images); `accuracy`, `per_class_accuracy`.

Image-space leakage (does a reconstruction copy a real image?):
  `nearest_neighbour_ssim` / `nearest_neighbour_psnr`: for each image its best
    SSIM / PSNR over a reference set (chunked, all pairs); `pairwise_ssim` /
    `pairwise_psnr` give the full matrices; `summarize`: mean and 95th
    percentile (exact copies give PSNR +inf, kept on purpose);
    `pixel_variance`: the paper's Var(G(z)).

Class-level leakage (does a set of reconstructions show the class?), the
headline, judged by an evaluation network that is not the attacked model:
  `load_or_train_evaluation_network`: a BatchNorm CNN trained once on a
    dataset's real training split, cached under a key of everything that
    defines it; `EvaluationNetwork.features`, `.predict_proba`;
  `class_leakage_report(samples, HeldOut(network, held_out, target))`:
    Fréchet distance, KID, precision/recall, density/coverage and the
    confident target rate against held-out real images of the class;
    `instance_leakage(InstanceBaseline(network, private, public), samples)`:
    per private image, is a reconstruction nearer than any public image?; `reference_rows`: the same metrics for reference sets
    (held-out real, other class, binarised mean, noise, black, noisy blobs);
  `frechet_distance` / `frechet_distance_from_moments` (the FID formula),
    `kernel_distance` (KID).

Reports:
  `leakage_report(reconstructions, real_target_images)` (the image-space
    scores) and `defended_data_report(x_prime, x)` give ordered dicts ready
    for a CSV row (`split_real_copies` first separates the real images a
    victim mixed into X'); `write_run_report(output_dir)` writes a run directory's
    report.md (settings, utility, leakage with its reference rows, images).
"""

from antigan_tf.metrics.frechet import frechet_distance
from antigan_tf.metrics.frechet import frechet_distance_from_moments
from antigan_tf.metrics.leakage import defended_data_report
from antigan_tf.metrics.leakage import leakage_report
from antigan_tf.metrics.leakage import saturated_share
from antigan_tf.metrics.leakage import split_real_copies
from antigan_tf.metrics.class_leakage import HeldOut
from antigan_tf.metrics.class_leakage import InstanceBaseline
from antigan_tf.metrics.class_leakage import class_leakage_report
from antigan_tf.metrics.class_leakage import instance_leakage
from antigan_tf.metrics.class_leakage import kernel_distance
from antigan_tf.metrics.class_leakage import reference_rows
from antigan_tf.metrics.evaluation_network import EvaluationNetwork
from antigan_tf.metrics.evaluation_network import load_or_train_evaluation_network
from antigan_tf.metrics.evaluation_network import train_evaluation_network
from antigan_tf.metrics.report import HPARAMS_FILE
from antigan_tf.metrics.report import LEAKAGE_FILE
from antigan_tf.metrics.report import METRICS_FILE
from antigan_tf.metrics.report import REPORT_FILE
from antigan_tf.metrics.report import UTILITY_FILE
from antigan_tf.metrics.report import write_run_report
from antigan_tf.metrics.similarity import nearest_neighbour_psnr
from antigan_tf.metrics.similarity import nearest_neighbour_ssim
from antigan_tf.metrics.similarity import pairwise_psnr
from antigan_tf.metrics.similarity import pairwise_ssim
from antigan_tf.metrics.similarity import pixel_variance
from antigan_tf.metrics.similarity import summarize
from antigan_tf.metrics.utility import accuracy
from antigan_tf.metrics.utility import balanced_subset
from antigan_tf.metrics.utility import target_class_scores
from antigan_tf.metrics.utility import per_class_accuracy
from antigan_tf.metrics.utility import central_riafi
from antigan_tf.metrics.utility import riafi
from antigan_tf.metrics.utility import riafi_ratio
