"""Short real federated runs on Fashion-MNIST: FedAvg equivalence, the
defended victim, the adversary, DP, resume-after-interrupt, worker clean-up.

The command line is tested in test_run_tff_cli.py."""

import asyncio
import csv
import json
import math
import os
import re

import numpy as np
import portpicker
import pytest
import tensorflow as tf
import tensorflow_federated as tff

import helpers
from antigan_tf.data import client_store as client_store_lib
from antigan_tf.data import load_dataset
from antigan_tf.federated import client_data as client_data_lib
from antigan_tf.federated import processes
from antigan_tf.federated import runtime as runtime_lib
from antigan_tf.federated import checkpoints
from antigan_tf.federated import evaluation
from antigan_tf.federated import training
from antigan_tf.federated.config import ExperimentConfig
from antigan_tf.metrics import class_leakage
from antigan_tf.layout import RunLayout

_TINY = dict(
    evaluation_max_train_examples=300,
    evaluation_epochs=1,
    leakage_samples=40,
    num_clients=4,
    clients_per_round=3,
    rounds=2,
    batch_size=16,
    max_examples_per_client=64,
    max_test_examples=200,
    progress=False,
)
_TINY_ATTACK = dict(
    attack_generator_steps=2,
    attack_num_images=8,
    attack_batch_size=8,
    attack_generator_width=8,
    attack_latent_dim=16,
    attack_grid_every_n_rounds=2,
    black_box_steps=2,
    adaptive_steps=2,
    adaptive_width=4,
    num_reconstructions=9,
)
_TINY_DEFENDER = dict(
    epochs=1, generator_width=4, critic_width=4, latent_dim=8, batch_size=32,
    restarts=2, projection_steps=2, image_grid_every_n_steps=1000, image_grid_num_images=4)
# Wall-clock columns differ between runs by nature.
_TIMING = ('round_seconds', 'attack_seconds')


def _run(output_dir, *, victim_transform=None, defender_config=None, **flat):
  """run_federated on flag-named settings; `defender_config` fields as --defender_*."""
  flat.update({f'defender_{k}': v for k, v in (defender_config or {}).items()})
  config = ExperimentConfig.from_flat({'output_dir': output_dir, **flat})
  return training.run_federated(config, victim_transform=victim_transform)


def _read_csv(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def _weights(result):
  return [np.asarray(w) for w in result.model_weights.trainable]


def _without_timing(rows):
  return [{k: v for k, v in row.items() if k not in _TIMING} for row in rows]


def test_honest_run_is_tff_fed_avg_on_the_same_data_and_seed(tmp_path):
  before = set(helpers.worker_pids())
  result = _run(str(tmp_path), **_TINY)

  # The same rounds with stock `build_weighted_fed_avg`, fed Python datasets.
  # The worker builds its datasets in a graph without a graph-level seed; an
  # eager shuffle matches it only without a global seed (other tests set one).
  tf.random.set_seed(None)
  store = client_store_lib.ClientStore(str(tmp_path / 'client_store'))
  preprocess = client_data_lib.build_preprocess_fn(batch_size=16, local_epochs=1, seed=0)
  process = tff.learning.algorithms.build_weighted_fed_avg(
      processes.build_model_fn((28, 28, 1), 10),
      client_optimizer_fn=tff.learning.optimizers.build_sgdm(0.05),
      server_optimizer_fn=tff.learning.optimizers.build_sgdm(1.0),
  )
  with runtime_lib.ManagedRuntime():
    state = process.initialize()
    state = process.set_model_weights(
        state, processes.initial_model_weights((28, 28, 1), 10, seed=0))
    for round_num in (1, 2):
      ids = processes.sample_clients(store.client_ids, 3, seed=0, round_num=round_num)
      state = process.next(state, [preprocess(store.client_dataset(c)) for c in ids]).state
    reference = [np.asarray(w) for w in process.get_model_weights(state).trainable]
  for ours, theirs in zip(_weights(result), reference):
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)

  rows = _read_csv(tmp_path / 'metrics.csv')
  assert [int(r['round']) for r in rows] == [1, 2]
  for row in rows:
    for key in ('train_loss', 'test_loss', 'test_accuracy', 'target_accuracy'):
      assert math.isfinite(float(row[key])), key
    assert int(row['train_examples']) == 3 * 64  # 3 sampled clients, 64 each.
  assert 'attack_active' not in rows[0]
  assert os.listdir(tmp_path / 'tensorboard')
  assert set(helpers.worker_pids()) <= before  # The run's worker is gone.


@pytest.fixture(scope='module')
def attacked_runs(tmp_path_factory):
  """Anti-GAN victim + GAN adversary + black-box and adaptive attackers: 3
  rounds straight, and the same run of 2 rounds, interrupted (Ctrl-C) once
  its rounds are done, while the adaptive attacker starts, then resumed to 3."""
  # bfloat16 end to end (the defender, both attackers, the evaluation network),
  # resumed exactly; the notebooks and CLI tests run what `auto` picks here.
  kwargs = dict(
      _TINY, clients_per_round=4, defense='anti_gan', defender_config=_TINY_DEFENDER,
      attacks=('gan', 'black_box', 'adaptive'), attack_prior_weight=0.1,
      precision='mixed_bfloat16', **_TINY_ATTACK)
  straight_dir = tmp_path_factory.mktemp('straight')
  resumed_dir = tmp_path_factory.mktemp('resumed')
  straight = _run(str(straight_dir), **{**kwargs, 'rounds': 3})
  with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
    patch.setattr(training.adversary_lib, 'run_adaptive_attack', _interrupt)
    _run(str(resumed_dir), **{**kwargs, 'rounds': 2})
  first_rounds = [int(r['round']) for r in _read_csv(resumed_dir / 'metrics.csv')]
  shared_mtime = os.path.getmtime(resumed_dir / 'victim' / 'shared.npz')
  resumed = _run(str(resumed_dir), **{**kwargs, 'rounds': 3})
  return dict(straight=straight, straight_dir=straight_dir, first_rounds=first_rounds,
              resumed=resumed, resumed_dir=resumed_dir, shared_mtime=shared_mtime,
              kwargs=kwargs)


def _interrupt(*args, **kwargs):
  raise KeyboardInterrupt


def test_attacked_run_writes_metrics_grids_and_the_defended_victim(attacked_runs):
  out = attacked_runs['straight_dir']
  rows = _read_csv(out / 'metrics.csv')
  assert [int(r['round']) for r in rows] == [1, 2, 3]
  for row in rows:
    assert row['attack_active'] == '1'  # All 4 clients every round.
    assert math.isfinite(float(row['attack_generator_loss']))
    assert 0.0 <= float(row['attack_target_confidence']) <= 1.0
    # 64 examples x 4 clients + 8 injected fakes; the victim's X' has as many
    # images as X (mix ratio 0).
    assert int(row['train_examples']) == 4 * 64 + 8
  assert (out / 'attack' / 'gan' / 'round_00002.png').exists()
  assert (out / 'attack' / 'gan' / 'round_00003.png').exists()  # The last round.
  assert (out / 'attack' / 'black_box' / 'reconstructions.png').exists()
  assert (out / 'victim' / 'shared_target_class.png').exists()
  assert os.path.exists(RunLayout(str(out)).real_target_grid)
  # The federation saw the victim's X', never X: no real image is in the store.
  store = client_store_lib.ClientStore(str(out / 'client_store'))
  shared_x, shared_y = store.client_arrays('victim')
  with np.load(out / 'victim' / 'shared.npz') as cached:
    np.testing.assert_array_equal(cached['x'], shared_x)
  train = load_dataset('fashion_mnist', split='train')
  real_rows = {img.tobytes() for img in train.x[train.y == 6]}
  assert not any(img.tobytes() in real_rows for img in shared_x)
  assert set(shared_y.tolist()) == {6}
  # The injected client file is removed after the run.
  assert not (out / 'client_store' / 'adversary.injected.bin').exists()


def test_attacked_run_measures_leakage_and_writes_the_report(attacked_runs):
  out = attacked_runs['straight_dir']
  leakage = attacked_runs['straight'].leakage
  references = [f'reference.{name}' for name in class_leakage.REFERENCE_NAMES]
  adaptive = ['adaptive_gan_adversary', 'adaptive_black_box', 'adaptive_victim_shared']
  assert list(leakage) == [*references, 'gan_adversary', 'black_box', 'victim_shared',
                           *adaptive]
  for name in adaptive:  # Each attacker's samples, inverted and scored alike.
    assert leakage[name]['num_samples'] == {'adaptive_victim_shared': 64}.get(name, 40)
    assert math.isfinite(leakage[name]['frechet_distance'])
    assert leakage[name]['inversion_num_pairs'] == 6  # A tenth of its 64 images.
    assert leakage[name]['inversion_l1_defended'] > 0
  for name in (*references, 'gan_adversary', 'black_box'):
    values = leakage[name]
    assert values['num_samples'] == 40 and values['few_samples'] == 1.0
    assert values['frechet_distance'] >= 0.0 and math.isfinite(values['kid'])
    for metric in ('precision', 'recall', 'coverage', 'confident_rate'):
      assert 0.0 <= values[metric] <= 1.0, (name, metric)
  for attacker in ('gan_adversary', 'black_box'):
    values = leakage[attacker]
    assert -1.0 <= values['nn_ssim_mean'] <= values['nn_ssim_p95'] <= 1.0
    assert 0.0 <= values['instance_leak_rate_features'] <= 1.0
    assert 0.0 <= values['instance_leak_rate_ssim'] <= 1.0
  # The black-box attacker's grid shows 9 images; its npz holds the 40 scored.
  with np.load(out / 'attack' / 'black_box' / 'reconstructions.npz') as cached:
    assert len(cached['x']) == 40
  assert leakage['victim_shared']['pixel_variance_x'] > 0
  # MR = 0: every shared image of the class is generated.
  assert (leakage['victim_shared']['num_generated'],
          leakage['victim_shared']['num_real_copies']) == (64, 0)
  with open(out / 'leakage.json') as f:
    assert json.load(f) == json.loads(json.dumps(leakage))
  with open(out / 'utility.json') as f:
    utility = json.load(f)
  assert list(utility) == [f'{p}_{k}' for p in ('central', 'central_balanced')
                           for k in ('riafi', 'target_precision', 'target_f1', 'test_accuracy')]
  assert all(0.0 <= v <= 1.0 for v in utility.values())
  report = (out / 'report.md').read_text()
  assert '## Leakage' in report and 'gan_adversary' in report
  assert 'central_riafi' in report
  # Every image the report embeds exists, by a path relative to the run.
  links = re.findall(r'!\[[^]]*\]\(([^)]+)\)', report)
  assert links and all((out / link).exists() for link in links)
  assert any('attack/gan/round_00003.png' == link for link in links)
  for source in ('gan_adversary', 'black_box', 'victim_shared'):
    for stage in ('before', 'after'):
      assert f'attack/adaptive/{source}_{stage}.png' in links
  assert 'attack/adaptive/pairs_defended.png' in links
  # The adversary ran Anti-GAN with the victim's settings on its own 2 classes.
  assert sorted(os.listdir(out / 'attack' / 'adaptive' / 'defender')) == ['class_0', 'class_1']
  # The GAN adversary's per-round curve: its grid rounds, scored like the last.
  layout = RunLayout(str(out))
  assert layout.gan_sample_rounds() == [2, 3]
  curve = _read_csv(layout.gan_leakage_curve_csv)
  assert [int(r['round']) for r in curve] == [2, 3]
  assert float(curve[-1]['frechet_distance']) == pytest.approx(
      leakage['gan_adversary']['frechet_distance'], rel=1e-3)  # float16 samples.
  assert -1.0 <= float(curve[0]['mean_pairwise_ssim']) <= 1.0
  assert 'GAN adversary after each grid round' in report


def test_resumed_run_ends_exactly_like_the_uninterrupted_one(attacked_runs):
  assert attacked_runs['first_rounds'] == [1, 2]
  assert attacked_runs['resumed'].resumed_from_round == 2
  assert len(attacked_runs['resumed'].history) == 1  # Only round 3 was run again.
  for ours, theirs in zip(_weights(attacked_runs['resumed']), _weights(attacked_runs['straight'])):
    np.testing.assert_array_equal(ours, theirs)
  assert _without_timing(_read_csv(attacked_runs['resumed_dir'] / 'metrics.csv')) == (
      _without_timing(_read_csv(attacked_runs['straight_dir'] / 'metrics.csv')))
  # The defender's output was reused, not recomputed.
  assert os.path.getmtime(attacked_runs['resumed_dir'] / 'victim' / 'shared.npz') == (
      attacked_runs['shared_mtime'])
  with np.load(attacked_runs['resumed_dir'] / 'attack' / 'gan' / 'latest.npz') as a, \
      np.load(attacked_runs['straight_dir'] / 'attack' / 'gan' / 'latest.npz') as b:
    np.testing.assert_array_equal(a['x'], b['x'])
  with np.load(RunLayout(str(attacked_runs['resumed_dir'])).adaptive_npz) as a, \
      np.load(RunLayout(str(attacked_runs['straight_dir'])).adaptive_npz) as b:
    for source in a['sources']:
      np.testing.assert_array_equal(a[f'inverted_{source}'], b[f'inverted_{source}'])


def test_rerunning_a_finished_run_trains_nothing(attacked_runs):
  again = _run(str(attacked_runs['resumed_dir']), **{**attacked_runs['kwargs'], 'rounds': 3})
  assert again.resumed_from_round == 3 and again.history == []
  assert int(again.final_metrics['round']) == 3


def test_other_configuration_in_the_run_dir_is_refused(attacked_runs):
  out = attacked_runs['resumed_dir']
  kwargs = {**attacked_runs['kwargs'], 'rounds': 3}
  with pytest.raises(ValueError, match=r'different configuration: .*attack_num_images \(8 -> 9\)'):
    _run(str(out), **{**kwargs, 'attack_num_images': 9})
  with pytest.raises(ValueError, match='defender_lambda1'):
    _run(str(out), **{**kwargs, 'defender_config': {**_TINY_DEFENDER, 'lambda1': 1.0}})
  assert len(_read_csv(out / 'metrics.csv')) == 3  # Nothing touched.


def test_corrupt_checkpoint_is_reported_and_kept(tmp_path):
  kwargs = dict(_TINY, rounds=1)
  _run(str(tmp_path), **kwargs)
  state_dir = tmp_path / 'program_state'
  files = [p for p in state_dir.rglob('*') if p.is_file()]
  assert files
  for path in files:
    path.write_bytes(b'not a checkpoint')
  with pytest.raises(training.CheckpointError, match='cannot be loaded'):
    _run(str(tmp_path), **{**kwargs, 'rounds': 2})
  assert all(p.read_bytes() == b'not a checkpoint' for p in files)
  result = _run(str(tmp_path), **{**kwargs, 'overwrite': True})
  assert result.resumed_from_round == 0 and int(result.final_metrics['round']) == 1


def test_dp_fed_avg_run(tmp_path):
  result = _run(str(tmp_path), **{**_TINY, 'rounds': 1}, defense='dp',
      dp_noise_multiplier=0.1, dp_clip_norm=1.0)
  rows = _read_csv(tmp_path / 'metrics.csv')
  assert len(rows) == 1 and math.isfinite(float(rows[0]['test_loss']))
  hparams = {r['name']: r['value'] for r in _read_csv(tmp_path / 'hparams.csv')}
  assert hparams['defense'] == 'dp' and hparams['dp_clip_norm'] == '1.0'
  assert hparams['defender_lambda1'] == ''  # Not an Anti-GAN run: None.
  from antigan_tf.utils import precision  # pylint: disable=g-import-not-at-top
  assert hparams['precision'] == precision.resolve('auto')  # As resolved here.
  assert result.final_metrics['round'] == 1


def test_two_workers_local_or_by_address_train_what_one_does(tmp_path, repo_root):
  # The clients of a round are split over the workers (TFF's mergeable-
  # computation context): only the summation order changes, so the weights
  # agree to float32 rounding (1.5e-8 measured; 1e-6 allowed). The same holds
  # for two workers reached by address (`bin/tff_worker`, as on other hosts).
  before = set(helpers.worker_pids())
  kwargs = {**_TINY, 'clients_per_round': 4, 'leakage_metrics': False,
            'central_riafi_epochs': 0}
  one = _run(str(tmp_path / 'one'), **kwargs, tff_workers=1)
  two = _run(str(tmp_path / 'two'), **kwargs, tff_workers=2)
  ports = [portpicker.pick_unused_port() for _ in range(2)]
  served = [helpers.start_tff_worker(repo_root, port) for port in ports]
  try:
    remote = _run(str(tmp_path / 'remote'), **kwargs,
        tff_worker_addresses=[f'localhost:{port}' for port in ports])
    assert all(proc.poll() is None for proc in served)  # Theirs: left running.
  finally:
    for proc in served:
      proc.kill()
      proc.wait()
      proc.stderr.close()
  for run, result in (('two', two), ('remote', remote)):
    for ours, theirs in zip(_weights(result), _weights(one), strict=True):
      np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    for row_n, row_one in zip(_read_csv(tmp_path / run / 'metrics.csv'),
                              _read_csv(tmp_path / 'one' / 'metrics.csv'), strict=True):
      assert row_n['train_examples'] == row_one['train_examples']
      assert float(row_n['test_loss']) == pytest.approx(float(row_one['test_loss']), abs=1e-5)
  hparams = {r['name']: r['value'] for r in _read_csv(tmp_path / 'remote' / 'hparams.csv')}
  assert hparams['tff_worker_addresses'] == ','.join(f'localhost:{port}' for port in ports)
  assert set(helpers.worker_pids()) <= before  # Every worker is gone.


def test_custom_victim_transform_is_what_the_federation_sees(tmp_path):
  def negate(x, y):
    return -x, y

  _run(str(tmp_path), **{**_TINY, 'rounds': 1},
                         victim_transform=negate)
  store = client_store_lib.ClientStore(str(tmp_path / 'client_store'))
  with np.load(tmp_path / 'victim' / 'shared.npz') as cached:
    shared = cached['x']
  np.testing.assert_array_equal(store.client_arrays('victim')[0], shared)
  assert float(np.mean(shared)) > 0  # Negated Fashion-MNIST (mostly dark): bright.
  hparams = {r['name']: r['value'] for r in _read_csv(tmp_path / 'hparams.csv')}
  assert hparams['victim_transform'].endswith('negate')


@pytest.mark.parametrize('defense, strength', [('pixelate', {'pixelate_block': 4}),
                                               ('drop_class', {})])
def test_baseline_defense_is_what_the_federation_and_the_attackers_see(tmp_path, defense,
                                                                       strength):
  result = _run(str(tmp_path), **{**_TINY, 'rounds': 1}, defense=defense,
                attacks=('black_box', 'adaptive'), **{**_TINY_ATTACK, 'black_box_steps': 1},
                **strength)
  leakage, layout = result.leakage, RunLayout(str(tmp_path))
  store = client_store_lib.ClientStore(str(tmp_path / 'client_store'))
  shared_x, shared_y = store.client_arrays('victim')
  hparams = {r['name']: r['value'] for r in _read_csv(tmp_path / 'hparams.csv')}
  assert hparams['defense'] == defense and hparams['gaussian_blur_sigma'] == ''
  if defense == 'pixelate':
    assert np.all(shared_y == 6) and len(shared_x) == 64
    # 4 x 4 blocks of one value each, unlike Fashion-MNIST's shirts.
    blocks = shared_x[:, :28, :28, 0].reshape(64, 7, 4, 7, 4)
    np.testing.assert_allclose(blocks.max(axis=(2, 4)), blocks.min(axis=(2, 4)), atol=1e-6)
    assert 'black_box' in leakage and 'victim_shared' in leakage
    assert hparams['pixelate_block'] == '4'
    # The adaptive attacker pixelated its own images and learned to undo it.
    assert set(leakage) >= {'adaptive_black_box', 'adaptive_victim_shared'}
    row = leakage['adaptive_black_box']
    assert math.isfinite(row['frechet_distance']) and row['inversion_l1_defended'] > 0
    with np.load(layout.adaptive_npz) as saved, np.load(layout.black_box_npz) as samples:
      assert saved['inverted_black_box'].shape == samples['x'].shape
      # It changed the pixelated samples: it learned something to undo.
      assert np.abs(saved['inverted_black_box'] - samples['x']).max() > 1e-4
    assert os.path.exists(layout.adaptive_grid('black_box', 'after'))
    losses = _read_csv(layout.adaptive_losses_csv)
    assert len(losses) == 1 and set(losses[0]) == {'step', 'l1', 'held_out_l1'}
  else:
    # Nothing of the class is shared: the black-box attacker has nothing to
    # learn, and the adaptive attacker no pair.
    assert len(shared_x) == 0
    assert leakage['black_box'] == {'note': evaluation.NOTHING_SHARED}
    assert 'victim_shared' not in leakage
    assert leakage['adaptive_black_box'] == {'note': evaluation.NO_PAIRS}
    assert evaluation.NOTHING_SHARED in (tmp_path / 'report.md').read_text()
    assert math.isfinite(result.final_metrics['test_accuracy'])
  assert 'adaptive_black_box' in (tmp_path / 'report.md').read_text()


def test_adaptive_attacker_needs_another_attacker_and_a_known_defense(tmp_path):
  with pytest.raises(ValueError, match=r'--attacks \(adaptive\) needs gan or black_box'):
    ExperimentConfig.from_flat({'output_dir': str(tmp_path), 'attacks': 'adaptive'})
  with pytest.raises(ValueError, match='cannot run a custom `victim_transform`'):
    _run(str(tmp_path), **_TINY, attacks=('black_box', 'adaptive'),
         victim_transform=lambda x, y: (x, y))
  assert not os.listdir(tmp_path)  # Refused before any output.


def test_runs_sharing_the_victims_data_train_the_black_box_attacker_once(tmp_path, monkeypatch):
  from antigan_tf.federated import adversary as adversary_lib
  from antigan_tf.federated import run_setup
  trained = []
  real = adversary_lib.attack_lib.train_black_box_attacker
  monkeypatch.setattr(adversary_lib.attack_lib, 'train_black_box_attacker',
                      lambda images, **kw: trained.append(len(images)) or real(images, **kw))
  common = dict(_TINY, rounds=1, attacks=('black_box', 'adaptive'),
                cache_dir=str(tmp_path / 'cache'), **{**_TINY_ATTACK, 'black_box_steps': 1})
  undefended = _run(str(tmp_path / 'none'), **common)
  dp = _run(str(tmp_path / 'dp'), defense='dp', **common)  # DP leaves the victim's data as is.
  assert trained == [64]  # The DP run reused the undefended run's samples.
  for result in (undefended, dp):
    with np.load(os.path.join(result.output_dir, 'attack', 'black_box',
                              'reconstructions.npz')) as cached:
      assert len(cached['x']) == 40
    # Pairs (x, x): the adaptive attacker is the black-box one, and says so.
    row = result.leakage['adaptive_black_box']
    assert row['frechet_distance'] == result.leakage['black_box']['frechet_distance']
    assert row['note'] == evaluation.SHARES_REAL.format(source='black_box')
    assert not os.path.exists(RunLayout(result.output_dir).adaptive_dir)
  assert json.dumps(dp.leakage['black_box']) == json.dumps(undefended.leakage['black_box'])
  assert os.path.exists(tmp_path / 'dp' / 'attack' / 'black_box' / 'reconstructions.png')
  # Another seed is another attacker, even on the same images.
  images = run_setup.load_run_data(ExperimentConfig.from_flat(
      {'output_dir': undefended.output_dir, **common})).victim_data
  config = ExperimentConfig.from_flat({'output_dir': str(tmp_path / 'seed1'), **common, 'seed': 1})
  layout = RunLayout(config.output_dir)
  adversary_lib.run_black_box_attack(config, images, layout)
  assert trained == [64, 64]
  with np.load(layout.black_box_npz) as seed1, \
      np.load(RunLayout(undefended.output_dir).black_box_npz) as seed0:
    assert not np.array_equal(seed1['x'], seed0['x'])


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'clients_per_round': 5}, 'clients_per_round'),
        ({'defense': 'gaussian_noise', 'gaussian_noise_std': 0.0}, 'gaussian_noise_std'),
        ({'defense': 'pixelate', 'pixelate_block': 1}, 'pixelate_block'),
        ({'defense': 'none', 'gaussian_blur_sigma': 2.0}, 'gaussian_blur'),
        ({'defense': 'drop_class', 'victim_transform': lambda x, y: (x, y)}, 'victim_transform'),
        ({'rounds': 0}, 'rounds'),
        ({'client_learning_rate': float('nan')}, 'client_learning_rate'),
        ({'adversary_classes': (6, 1)}, 'target'),
        ({'dataset': 'imagenet'}, 'imagenet'),
        ({'defense': 'crypto'}, 'defense'),
        ({'attacks': ('gan', 'model_inversion')}, 'model_inversion'),
        ({'attacks': ('gan',), 'attack_fake_class': 'declared', 'attack_fake_label': 6},
         'attack_fake_label'),
        ({'attacks': ('gan',), 'attack_fake_class': 'declared', 'attack_fake_label': 3},
         'adversary'),
        ({'attacks': ('gan',), 'attack_start_accuracy': 1.5}, 'attack_start_accuracy'),
        ({'defense': 'dp', 'dp_noise_multiplier': -1.0}, 'dp_noise_multiplier'),
        ({'defense': 'anti_gan', 'victim_transform': lambda x, y: (x, y)}, 'victim_transform'),
        ({'defense': 'anti_gan', 'defender_config': {'lambda1': -1.0}}, 'lambda1'),
        ({'num_clients': 1, 'clients_per_round': 1}, 'num_clients'),
        ({'tff_workers': 0}, 'tff_workers'),
        ({'tff_workers': 2, 'tff_worker_addresses': ['localhost:8000']}, 'either'),
        ({'tff_worker_addresses': ['10.0.0.7:8000']}, 'allow_remote_workers'),
        ({'tff_worker_addresses': 'localhost'}, 'host:port'),
    ],
)
def test_bad_arguments_fail_before_any_work(tmp_path, kwargs, message):
  out = tmp_path / 'run'
  with pytest.raises(ValueError, match=message):
    _run(str(out), **{**_TINY, **kwargs})
  assert not (out / 'metrics.csv').exists()


def test_unwritable_output_dir_is_refused(tmp_path):
  target = tmp_path / 'file'
  target.write_text('x')
  with pytest.raises(ValueError, match='not writable'):
    _run(str(target / 'run'), **_TINY)


def test_a_running_event_loop_gets_a_clear_error():
  async def inside_a_notebook():
    async def noop():
      return 1
    checkpoints.run_sync(noop())

  with pytest.raises(RuntimeError, match='nest_asyncio'):
    asyncio.run(inside_a_notebook())


@pytest.mark.parametrize('fake_class, adversary_labels, model_classes',
                         [('extra', {0, 1}, 11), ('declared', {0}, 10), ('owned', {0, 1}, 10)])
def test_fake_class_sets_the_adversary_data_and_the_model_outputs(
    fake_class, adversary_labels, model_classes):
  from antigan_tf.federated import run_setup  # pylint: disable=g-import-not-at-top
  config = ExperimentConfig.from_flat({'output_dir': 'unused', **_TINY, 'attacks': 'gan',
                                       'attack_fake_class': fake_class})
  data = run_setup.load_run_data(config)
  _, y = data.clients[data.partition.adversary_id]
  # Hitaj et al.'s declared class: the adversary holds no real image of it.
  assert set(y.tolist()) == adversary_labels
  assert data.model_classes == model_classes and data.num_classes == 10
