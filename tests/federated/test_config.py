"""`ExperimentConfig`: every setting checked once, with the rules between them,
before `run_federated` does any work; errors name the flag."""

import subprocess
import sys

import pytest

from antigan_tf.defense.config import DefenderConfig
from antigan_tf.federated import config as config_lib
from antigan_tf.federated.config import ExperimentConfig
from antigan_tf.utils import settings


def _config(**flat):
  return ExperimentConfig.from_flat({'output_dir': 'run', **flat})


def test_defaults_and_flag_names():
  config = _config()
  assert config.federation.rounds == 5 and config.defense.defense == 'none'
  assert config.defense.defender == DefenderConfig()
  assert config.fake_label(10) == 10  # An extra output class of its own.
  assert config.model_classes(10) == 10  # No Hitaj adversary: no extra output.
  assert _config(attacks='gan').model_classes(10) == 11
  declared = _config(attacks='gan', attack_fake_class='declared')
  assert declared.fake_label(10) == 1 and declared.model_classes(10) == 10  # Its second class.
  assert config.precision == 'auto'
  names = settings.flag_names(ExperimentConfig)
  assert {'rounds', 'defense', 'attacks', 'defender_lambda1', 'dp_noise_multiplier',
          'tff_workers', 'output_dir'} <= names
  assert {f'defender_{f}' for f in DefenderConfig.__dataclass_fields__} <= names
  assert len(names) == len(settings.flag_specs(ExperimentConfig))  # No name twice.


def test_resumable_settings_are_where_a_run_may_differ_from_its_checkpoint():
  assert config_lib.RESUMABLE_CHANGES == frozenset({
      'rounds', 'progress', 'overwrite', 'tff_workers', 'tff_worker_addresses',
      'allow_remote_workers', 'leakage_metrics', 'central_riafi_epochs', 'leakage_samples',
      'cache_dir', 'evaluation_epochs', 'evaluation_max_train_examples'})


@pytest.mark.parametrize(
    'flat, message',
    [
        ({'seed': -1}, '--seed must be an integer >= 0, got -1.'),
        ({'attack_batch_size': 0}, '--attack_batch_size must be an integer >= 1, got 0.'),
        ({'defense': 'anti_gan', 'defender_mix_mode': 'add', 'defender_mix_ratio': 2},
         '--defender_mix_ratio must be <= 1'),
        ({'defender_lambda1': -1.0}, '--defender_lambda1 must be finite and >= 0, got -1.0.'),
        ({'dp_noise_multiplier': -5.0}, '--dp_noise_multiplier must be finite and >= 0'),
        ({'dp_noise_multiplier': 0.5}, '--dp_noise_multiplier applies to --defense=dp only'),
        ({'defense': 'none', 'dp_clip_norm': 1.0}, '--dp_clip_norm applies to --defense=dp only'),
        ({'tff_workers': 2, 'tff_worker_addresses': ('localhost:1',)}, 'exclude each other'),
        ({'clients_per_round': 11}, '--clients_per_round (11) must not exceed --num_clients'),
        ({'adversary_classes': ('6', '1')}, 'target class (--target_class=6)'),
        ({'attacks': ('gan',), 'attack_fake_class': 'declared', 'attack_fake_label': 6},
         '--attack_fake_label (6) must differ'),
        ({'attacks': ('gan',), 'attack_fake_class': 'owned', 'attack_fake_label': 3},
         "adversary's classes [0, 1]"),
        ({'attacks': ('gan',), 'attack_fake_label': 1},
         '--attack_fake_label (1) is for --attack_fake_class=declared or owned'),
        ({'attack_fake_class': 'mine'}, '--attack_fake_class must be one of extra, declared'),
        ({'attack_generator_upsampling': 'bilinear'}, '--attack_generator_upsampling must be'),
        ({'precision': 'float16'}, '--precision must be one of auto, float32, mixed_bfloat16'),
        ({'attacks': 'gan,gan'}, '--attacks must not repeat an item'),
        ({'num_reconstructions': 1}, '--num_reconstructions must be >= 2 with --leakage_metrics'),
        ({'dataset': 'imagenet'}, "--dataset must be one of fashion_mnist, mnist, cifar10, local"),
        ({'output_dir': ''}, '--output_dir must be a non-empty string'),
        ({'roundz': 3}, 'Unknown setting(s): roundz.'),
        ({'black_box_beta_1': 1.0}, '--black_box_beta_1 must be finite and in [0, 1), got 1.0.'),
        ({'black_box_learning_rate': 0.0}, '--black_box_learning_rate must be finite and > 0'),
    ],
)
def test_bad_settings_name_the_flag(flat, message):
  with pytest.raises(ValueError) as info:
    _config(**flat)
  assert message in str(info.value)


def test_settings_that_do_not_apply_are_still_checked_but_accepted_at_defaults():
  # Attack settings are checked without the attack (a typo must not wait for it).
  with pytest.raises(ValueError, match='--attack_generator_steps'):
    _config(attack_generator_steps=0)
  assert _config(defense='dp', dp_noise_multiplier=0.5).defense.dp_noise_multiplier == 0.5
  assert _config(defender_mix_ratio=2).defense.defender.mix_ratio == 2.0  # Unused: no defender.
  assert _config(num_reconstructions=1, leakage_metrics=False).attack.num_reconstructions == 1


def test_the_config_module_imports_neither_tensorflow_nor_tff():
  code = ('import sys\n'
          'import antigan_tf.federated.config, antigan_tf.defense.config, antigan_tf.layout\n'
          'print(sorted(m for m in sys.modules if m.split(".")[0] in\n'
          '             ("tensorflow", "tensorflow_federated", "keras")))\n')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       check=True, timeout=120).stdout
  assert out.strip() == '[]'
