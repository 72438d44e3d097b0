"""What a run measures: the global model each round, and after training the
central RIAFI (utility.json) and the leakage of what the attackers
reconstructed and the victim shared (leakage.json). Plain TF, through
`antigan_tf.metrics`.
"""

import collections
from collections.abc import Mapping
from typing import NamedTuple, Optional

import numpy as np
import tensorflow as tf

from antigan_tf import layout as layout_lib
from antigan_tf import metrics as metrics_lib
from antigan_tf.federated import adversary as adversary_lib
from antigan_tf.federated import config as config_lib
from antigan_tf.federated import run_setup
from antigan_tf.metrics import class_leakage
from antigan_tf.metrics import evaluation_network
from antigan_tf.utils import io as io_utils


# The black-box attacker's row when the victim shares nothing of the class.
NOTHING_SHARED = 'not run: the victim shares no image of the target class'
# The adaptive attacker's rows when the defense gives it no pair to learn from.
SHARES_REAL = ('the defense shares the real images, so the adaptive attacker\'s pairs are '
               '(x, x) and its inversion the identity: these are the {source} values')
NO_PAIRS = 'not run: drop_class shares no image, so it gives the adaptive attacker no pair'


def evaluate_classifier(keras_model: tf.keras.Model, x: np.ndarray, y: np.ndarray, *,
                        num_classes: int, target_class: int,
                        batch_size: int = 1000) -> 'collections.OrderedDict[str, float]':
  """Loss, accuracy, target-class accuracy (RIAFI), precision and F1, and
  per-class accuracy on (x, y) of the dataset's `num_classes` (a model with the
  adversary's extra output has one more logit; an image put there is wrong)."""
  logits = keras_model.predict(x, batch_size=batch_size, verbose=0)
  loss = tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
  per_class = metrics_lib.per_class_accuracy(y, logits, logits.shape[-1])[:num_classes]
  target = metrics_lib.target_class_scores(y, np.argmax(logits, axis=1), target_class)
  row = collections.OrderedDict()
  row['test_loss'] = float(np.mean(loss))
  row['test_accuracy'] = metrics_lib.accuracy(y, logits)
  row['target_accuracy'] = float(per_class[target_class])
  # A model that calls everything the target class has a high target accuracy.
  row['target_precision'] = target['precision']
  row['target_f1'] = target['f1']
  for c, value in enumerate(per_class):
    row[f'accuracy_class_{c}'] = float(value)
  return row


def write_central_riafi(config: config_lib.ExperimentConfig, data: run_setup.RunData,
                        layout: layout_lib.RunLayout) -> None:
  """The paper's RIAFI protocol on the clients' data as the federation sees it,
  as mixed there (`central_*`) and with balanced classes (`central_balanced_*`)."""
  epochs = config.evaluation.central_riafi_epochs
  run_setup.log_phase('central RIAFI: %d epochs', epochs)
  train_x = np.concatenate([x for x, _ in data.clients.values()])
  train_y = np.concatenate([y for _, y in data.clients.values()])
  utility = collections.OrderedDict()
  protocols = (('central', (train_x, train_y)),
               ('central_balanced', metrics_lib.balanced_subset(
                   train_x, train_y, seed=config.federation.seed)))
  for prefix, (x, y) in protocols:
    scores = metrics_lib.central_riafi(
        x, y, data.test_x, data.test_y, target_class=config.federation.target_class,
        epochs=epochs, seed=config.federation.seed)
    utility.update((f'{prefix}_{k}', v) for k, v in scores.items())
  io_utils.write_json_atomic(layout.utility_json, utility, sort_keys=False)


class _Judge(NamedTuple):
  """The evaluation network with the held-out images it scores against."""

  held_out: class_leakage.HeldOut
  # The victim's images against the public half of the held-out images.
  instances: class_leakage.InstanceBaseline
  references: Mapping[str, Mapping[str, float]]


def _judge(config: config_lib.ExperimentConfig, data: run_setup.RunData) -> _Judge:
  """The evaluation network (cached), the held-out split and the reference rows (cached)."""
  evaluation, federation = config.evaluation, config.federation
  network = metrics_lib.load_or_train_evaluation_network(
      layout_lib.CacheLayout(evaluation.cache_dir).evaluation_dir,
      dataset=federation.dataset, data_dir=federation.data_dir,
      num_classes=federation.num_classes, epochs=evaluation.evaluation_epochs, seed=federation.seed,
      max_train_examples=evaluation.evaluation_max_train_examples, precision=config.precision,
      progress=config.progress)
  test = data.full_test  # No client holds it.
  target = federation.target_class
  scored, public = class_leakage.split_held_out(test.x, test.y, target, seed=0)
  held_out = class_leakage.HeldOut(network, scored, target)
  count = min(evaluation.leakage_samples, len(public))
  path = evaluation_network.reference_rows_path(network, target_class=target, count=count,
                                                seed=0)
  references = io_utils.read_json(path)
  if not references:
    other = class_leakage.nearest_other_class(network, test.x, test.y, target)
    references = class_leakage.reference_rows(
        held_out, public, test.x[test.y == other], count=count, seed=0)
    references['other_class']['class'] = float(other)
    io_utils.write_json_atomic(path, references, sort_keys=False)
  return _Judge(held_out=held_out, references=references,
                instances=class_leakage.InstanceBaseline(network, data.real_target, public))


def _attacker_leakage(reconstructions, data: run_setup.RunData, judge: _Judge):
  """Headline, instance and image-space leakage of one attacker's samples."""
  report = collections.OrderedDict(class_leakage.class_leakage_report(
      reconstructions, judge.held_out))
  report.update(class_leakage.instance_leakage(judge.instances, reconstructions))
  report.update(metrics_lib.leakage_report(reconstructions, data.real_target))
  return report


# The per-round columns of the GAN adversary's leakage curve.
CURVE_COLUMNS = ('frechet_distance', 'fd_over_other_class', 'kid', 'recall', 'coverage',
                 'mean_pairwise_ssim')


def _shared_leakage(target_shared, real_target, judge: _Judge) -> dict:
  """'victim_shared': the generated part of what the victim shares of the
  class (real images mixed in are counted, not scored: they are the real X)."""
  generated, copies = metrics_lib.split_real_copies(target_shared, real_target)
  if not len(generated):
    return {}
  row = collections.OrderedDict(num_generated=len(generated), num_real_copies=len(copies))
  row.update(metrics_lib.defended_data_report(generated, real_target))
  if len(generated) > class_leakage.NEIGHBOURS:
    row.update(class_leakage.class_leakage_report(generated, judge.held_out))
  return {'victim_shared': row}


def write_gan_leakage_curve(layout: layout_lib.RunLayout, judge: _Judge, *, last_round: int,
                            last_report: Mapping[str, float]) -> list[dict]:
  """The GAN adversary's headline leakage after each grid round, to
  attack/gan/leakage_curve.csv: when the attack starts to work. The last
  round's samples are the final reconstructions: `last_report` is reused."""
  other_fd = judge.references['other_class']['frechet_distance']
  rows = []
  for round_num in layout.gan_sample_rounds():
    if round_num == last_round:
      report = dict(last_report)
    else:
      with np.load(layout.gan_round_samples(round_num)) as saved:
        samples = saved['x'].astype(np.float32)
      report = class_leakage.class_leakage_report(samples, judge.held_out)
    report['fd_over_other_class'] = report['frechet_distance'] / other_fd
    rows.append({'round': round_num, **{k: report[k] for k in CURVE_COLUMNS}})
  if rows:
    io_utils.write_csv_rows(layout.gan_leakage_curve_csv, rows, ['round', *CURVE_COLUMNS])
  return rows


def _adaptive_leakage(config, data: run_setup.RunData, layout: layout_lib.RunLayout,
                      judge: _Judge, leakage: Mapping) -> dict:
  """'adaptive_<source>': the inverted samples of each source attacker, with
  how well the inversion undoes the defense on the adversary's own held-out
  pairs (`inversion_l1_*`)."""
  prefix = adversary_lib.ADAPTIVE_PREFIX
  if not adversary_lib.adaptive_trains(config):
    rows = {}
    for source in adversary_lib.ADAPTIVE_SOURCES:
      values = leakage.get(source)
      if not isinstance(values, Mapping) or source == 'victim_shared':
        continue
      if config.defense.defense == 'drop_class' or 'note' in values:
        rows[f'{prefix}{source}'] = {'note': NO_PAIRS}
      else:
        rows[f'{prefix}{source}'] = {'note': SHARES_REAL.format(source=source), **values}
    return rows
  rows = collections.OrderedDict()
  with np.load(layout.adaptive_npz) as saved:
    inversion = {k: float(saved[k]) for k in saved.files if k.startswith('inversion_')}
    for source in saved['sources']:
      row = _attacker_leakage(saved[f'inverted_{source}'], data, judge)
      row.update(inversion)
      rows[f'{prefix}{source}'] = row
  return rows


def write_leakage(config: config_lib.ExperimentConfig, data: run_setup.RunData,
                  layout: layout_lib.RunLayout, gan_reconstructions: Optional[np.ndarray]):
  """Leakage of each attacker's reconstructions and of the shared X', with the
  reference rows, to leakage.json.

  Returns:
    name -> metrics, as written: 'reference.<set>' for each reference row
    (`class_leakage.REFERENCE_NAMES`), then 'gan_adversary', 'black_box',
    'victim_shared' and the adaptive attacker's 'adaptive_<source>' where
    they apply.
  """
  run_setup.log_phase('leakage metrics (evaluation network and reference rows: trained '
                      'once, then cached)')
  judge = _judge(config, data)
  leakage = collections.OrderedDict(
      (f'{class_leakage.REFERENCE_PREFIX}{name}', row) for name, row in judge.references.items())
  if gan_reconstructions is not None:
    leakage['gan_adversary'] = _attacker_leakage(gan_reconstructions, data, judge)
    write_gan_leakage_curve(layout, judge, last_round=config.federation.rounds,
                            last_report=leakage['gan_adversary'])
  target_class = config.federation.target_class
  if 'black_box' in config.attack.attacks:
    if data.victim_shares_class(target_class):
      with np.load(layout.black_box_npz) as cached:
        leakage['black_box'] = _attacker_leakage(cached['x'], data, judge)
    else:  # Nothing to learn from: said so in leakage.json and the report.
      leakage['black_box'] = {'note': NOTHING_SHARED}
  if data.shared is not None:
    shared_x, shared_y = data.shared
    leakage.update(_shared_leakage(shared_x[shared_y == target_class], data.real_target, judge))
  if 'adaptive' in config.attack.attacks:
    leakage.update(_adaptive_leakage(config, data, layout, judge, leakage))
  io_utils.write_json_atomic(layout.leakage_json, leakage, sort_keys=False)
  return leakage
