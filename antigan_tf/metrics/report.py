"""`report.md` for a run directory: one file that says what happened.

Reads what a run wrote (hparams.csv, metrics.csv, leakage.json, the image
grids) and writes a Markdown summary next to them, with images embedded by
relative path so the directory can be moved or zipped as a whole.
"""

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from antigan_tf import layout as layout_lib
from antigan_tf.metrics import class_leakage
from antigan_tf.layout import HPARAMS_FILE
from antigan_tf.layout import LEAKAGE_FILE
from antigan_tf.layout import METRICS_FILE
from antigan_tf.layout import REPORT_FILE
from antigan_tf.layout import UTILITY_FILE
from antigan_tf.utils.io import read_csv_rows
from antigan_tf.utils.io import read_json
from antigan_tf.utils.io import read_hparams_csv
from antigan_tf.utils.io import write_text_atomic

__all__ = ['HPARAMS_FILE', 'LEAKAGE_FILE', 'METRICS_FILE', 'REPORT_FILE', 'UTILITY_FILE',
           'markdown_table', 'read_json', 'write_run_report']
# The columns of metrics.csv shown in the summary, in this order.
_SUMMARY_COLUMNS = ('test_accuracy', 'target_accuracy', 'test_loss', 'train_loss',
                    'attack_target_confidence')
# Settings worth a glance in the report's header (all are in hparams.csv).
_KEY_SETTINGS = ('dataset', 'defense', 'attacks', 'rounds', 'num_clients', 'clients_per_round',
              'target_class', 'adversary_classes', 'seed')


def format_value(value: Any) -> str:
  """Numbers (or numeric strings, as read from CSV) with 4 significant
  digits; integers and other text unchanged; '' for None."""
  if value is None:
    return ''
  if isinstance(value, str):
    try:
      number = float(value)
    except ValueError:
      return value
    if value.strip().lstrip('-').isdigit():
      return value.strip()
    value = number
  if isinstance(value, (bool, int)):
    return str(value)
  if isinstance(value, float):
    if math.isnan(value) or math.isinf(value):
      return str(value)
    return f'{value:.4g}'
  return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
  """A GitHub-flavoured Markdown table."""
  lines = ['| ' + ' | '.join(header) + ' |', '| ' + ' | '.join('---' for _ in header) + ' |']
  for row in rows:
    lines.append('| ' + ' | '.join(format_value(v).replace('|', '\\|') for v in row) + ' |')
  return '\n'.join(lines)


# The columns of the leakage table: the headline metrics, then the fooled ones.
HEADLINE_COLUMNS = ('num_samples', *class_leakage.HEADLINE_METRICS,
                    *class_leakage.FOOLED_BY_BLOBS)


def leakage_section(leakage: Mapping[str, Mapping[str, Any]]) -> list[str]:
  """Markdown lines: the headline table (reference rows first), then each
  attacker's other metrics."""
  rows = [(name, values) for name, values in leakage.items() if isinstance(values, Mapping)]
  headline = [(name, values) for name, values in rows
              if any(c in values for c in HEADLINE_COLUMNS[1:])]
  parts = ['## Leakage', '']
  if headline:
    parts += ['Scored in the evaluation network\'s features against held-out real images of '
              'the target class. Reference rows (`reference.*`) first: held-out real images '
              'are a perfect attacker; noise, blobs and black images leak nothing. The '
              'headline is the Fréchet distance and KID (lower: more leakage), then recall '
              'and coverage (higher: more leakage). Precision, density and the confident '
              'rate are fooled by blobs (see their reference rows): not leak measures on '
              'their own.', '',
              markdown_table(['set', *HEADLINE_COLUMNS],
                             [[name, *[values.get(c, '') for c in HEADLINE_COLUMNS]]
                              for name, values in headline]), '']
    if any(values.get('few_samples') for _, values in headline):
      parts += ['Some sets have fewer than 500 samples: their distances are noisy.', '']
  for name, values in rows:
    if name.startswith(class_leakage.REFERENCE_PREFIX):
      continue
    others = [(k, v) for k, v in values.items()
              if k not in HEADLINE_COLUMNS and k != 'few_samples']
    parts += [f'**{name}**', '', markdown_table(['metric', 'value'], others), '']
  return parts


def _thinned(paths: Sequence[str]) -> list[str]:
  """A series of round grids as its first, a few in between and its last: readable."""
  if len(paths) <= 4:
    return list(paths)
  return [paths[0], *paths[1:-1][::max(1, (len(paths) - 2) // 2)][:2], paths[-1]]


def write_run_report(output_dir: str, *, title: Optional[str] = None) -> str:
  """Writes `<output_dir>/report.md` from the run's files and returns its path.

  Sections: key flags, the last round's metrics and a per-round table,
  leakage metrics (if `leakage.json` exists), and the image grids (what the
  victim shares, the attackers' reconstructions).

  Raises:
    FileNotFoundError: `output_dir` has no hparams.csv (not a run directory).
  """
  run = layout_lib.RunLayout(output_dir)
  if not os.path.exists(run.hparams_csv):
    raise FileNotFoundError(f'{output_dir!r} is not a run directory (no {HPARAMS_FILE}).')
  hparams = read_hparams_csv(run.hparams_csv)
  _, rows = read_csv_rows(run.metrics_csv)
  leakage = read_json(run.leakage_json)
  utility = read_json(run.utility_json)

  parts = [f'# {title or os.path.basename(os.path.abspath(output_dir))}', '']
  parts += ['## Settings', '',
            markdown_table(['flag', 'value'],
                           [(k, hparams[k]) for k in _KEY_SETTINGS if k in hparams]),
            '', f'Every flag is in [{HPARAMS_FILE}]({HPARAMS_FILE}).', '']
  if leakage:  # First: what the attackers got, next to the reference rows.
    parts += leakage_section(leakage)
  curve_columns, curve = read_csv_rows(run.gan_leakage_curve_csv)
  if curve:
    parts += ['GAN adversary after each grid round (FD as a multiple of the other class\'s; '
              'mean pairwise SSIM against the held-out row\'s: higher is less diverse):', '',
              markdown_table(curve_columns, [[r[c] for c in curve_columns] for r in curve]), '']
  if rows:
    last = rows[-1]
    parts += [f'## Utility after round {last["round"]}', '',
              markdown_table(['metric', 'value'],
                             [(k, last[k]) for k in _SUMMARY_COLUMNS if k in last]), '']
    class_columns = sorted((k for k in last if k.startswith('accuracy_class_')),
                           key=lambda k: int(k.rsplit('_', 1)[1]))
    if class_columns:
      parts += ['Per-class test accuracy:', '',
                markdown_table([c.rsplit('_', 1)[1] for c in class_columns],
                               [[last[c] for c in class_columns]]), '']
    shown = ['round'] + [k for k in _SUMMARY_COLUMNS if k in last]
    parts += [f'Per round ([{METRICS_FILE}]({METRICS_FILE})):', '',
              markdown_table(shown, [[r.get(k, '') for k in shown] for r in rows]), '']
  if utility:
    parts += ['Trained centrally on the same data (the paper\'s RIAFI protocol, '
              f'[{UTILITY_FILE}]({UTILITY_FILE})):', '',
              markdown_table(['metric', 'value'], list(utility.items())), '']
  grids = [('What the victim shares (target class)', run.pngs_rel(run.VICTIM_REL)),
           ('GAN adversary reconstructions', _thinned(run.pngs_rel(run.GAN_ATTACK_REL))),
           ('Black-box attacker reconstructions', run.pngs_rel(run.BLACK_BOX_REL)),
           ('Adaptive attacker: the pairs it learns from (its own images), then each '
            'attacker\'s samples before and after its inversion', run.pngs_rel(run.ADAPTIVE_REL))]
  if any(paths for _, paths in grids):
    parts += ['## Images', '']
    for caption, paths in grids:
      if not paths:
        continue
      parts += [f'{caption}:', '']
      parts += [f'![{os.path.basename(p)}]({p})' for p in paths]
      parts += ['']
  return write_text_atomic(run.report_md, '\n'.join(parts).rstrip() + '\n')
