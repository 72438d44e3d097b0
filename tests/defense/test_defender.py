"""The `Defender` facade: fit/resume, NaN handling, save/load, obfuscation,
export, input validation; and a short run on real Fashion-MNIST."""

import csv
import dataclasses
import glob
import json
import math
import os
import shutil
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf.data import load_dataset
from antigan_tf.defense import losses
from antigan_tf.defense import run as run_lib
from antigan_tf.defense.defender import Defender
from antigan_tf.defense.config import DefenderConfig
from antigan_tf.defense.config import DefenderRunConfig
from antigan_tf.gan import NonFiniteLossError

_SHAPE = (8, 8, 1)
# Tiny networks; 32 images in batches of 16 = 2 generator steps per epoch.
_TINY = dict(
    latent_dim=4, generator_width=2, critic_width=2, n_critic=2, batch_size=16,
    image_grid_every_n_steps=2, image_grid_num_images=9, restarts=2,
    projection_steps=3, projection_batch_size=8,
)


def _images(n=32, seed=0, shape=_SHAPE):
  return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype(np.float32)


def _read_csv(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def _weights_equal(a, b):
  return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


class _PoisonCritic(tf.keras.callbacks.Callback):
  """Sets a critic kernel to NaN after the first batch of `epoch`."""

  def __init__(self, epoch):
    super().__init__()
    self._target_epoch = epoch
    self._epoch = None

  def on_epoch_begin(self, epoch, logs=None):
    self._epoch = epoch

  def on_train_batch_end(self, batch, logs=None):
    if self._epoch == self._target_epoch and batch == 0:
      kernel = self.model.critic.trainable_variables[0]
      kernel.assign(tf.fill(kernel.shape, math.nan))


# ------------------------------------------------------------ fit and resume


def test_fit_writes_logs_grids_csv_checkpoints_and_resumes_exactly(tmp_path):
  x = _images()
  out = tmp_path / 'run'
  first = Defender(_SHAPE, **_TINY)
  history = first.fit(x, output_dir=str(out), epochs=1, verbose=0)
  assert history.epoch == [0] and first.epoch == 1 and first.step == 2
  events = glob.glob(str(out / 'tensorboard' / 'train' / 'events.out.tfevents.*'))
  assert len(events) == 1
  tags = {value.tag for event in tf.compat.v1.train.summary_iterator(events[0])
          for value in event.summary.value}
  assert {'epoch_wasserstein', 'epoch_generator_loss', 'epoch_pixel_variance'} <= tags, tags
  assert sorted(os.listdir(out / 'images')) == ['grid_final.png', 'grid_step_000002.png']
  rows = _read_csv(out / 'losses.csv')
  assert [int(r['step']) for r in rows] == [1, 2]
  for name in ('critic_loss', 'generator_loss', 'gradient_penalty', 'wasserstein',
               'similarity_loss', 'obfuscation_loss', 'pixel_variance'):
    assert all(math.isfinite(float(r[name])) for r in rows), name
  assert tf.train.latest_checkpoint(str(out / 'checkpoints')).endswith('ckpt-1')

  # A new Defender (as in a new process) resumes from the checkpoint.
  resumed = Defender(_SHAPE, **_TINY)
  history = resumed.fit(x, output_dir=str(out), epochs=2, verbose=0)
  assert history.epoch == [1]  # Exactly one more epoch.
  assert resumed.epoch == 2 and resumed.step == 4
  rows = _read_csv(out / 'losses.csv')
  assert [int(r['step']) for r in rows] == [1, 2, 3, 4]
  assert [int(r['epoch']) for r in rows] == [0, 0, 1, 1]
  assert tf.train.latest_checkpoint(str(out / 'checkpoints')).endswith('ckpt-2')
  assert 'grid_step_000004.png' in os.listdir(out / 'images')

  # Same batches, same random numbers, same optimizer state: bit-identical to
  # an uninterrupted run.
  uninterrupted = Defender(_SHAPE, **_TINY)
  uninterrupted.fit(x, epochs=2, verbose=0)
  assert _weights_equal(resumed.generator, uninterrupted.generator)
  assert _weights_equal(resumed.critic, uninterrupted.critic)
  assert not _weights_equal(first.generator, uninterrupted.generator)

  # Already at epoch 2: nothing to train, nothing appended.
  again = Defender(_SHAPE, **_TINY)
  assert again.fit(x, output_dir=str(out), epochs=2, verbose=0).epoch == []
  assert len(_read_csv(out / 'losses.csv')) == 4
  assert _weights_equal(again.generator, resumed.generator)


def test_resume_with_different_training_settings_is_refused(tmp_path):
  x = _images()
  Defender(_SHAPE, **_TINY).fit(x, output_dir=str(tmp_path), epochs=1, verbose=0)
  with pytest.raises(ValueError, match=r'lambda2: 48\.0 -> 0\.0'):
    Defender(_SHAPE, **{**_TINY, 'lambda2': 0.0}).fit(
        x, output_dir=str(tmp_path), epochs=2, verbose=0)
  # Post-training settings may change.
  more = Defender(_SHAPE, **{**_TINY, 'restarts': 3})
  assert more.fit(x, output_dir=str(tmp_path), epochs=2, verbose=0).epoch == [1]


def test_nan_during_training_raises_and_keeps_the_last_good_checkpoint(tmp_path):
  x = _images()
  out = str(tmp_path)
  defender = Defender(_SHAPE, **_TINY)
  defender.fit(x, output_dir=out, epochs=1, verbose=0)
  good = [w.copy() for w in defender.generator.get_weights()]
  with pytest.raises(NonFiniteLossError) as info:
    defender.fit(x, output_dir=out, epochs=3, verbose=0, callbacks=[_PoisonCritic(epoch=1)])
  error = info.value
  # Step 3 (first of epoch 2) was fine, the poison then broke step 4.
  assert error.step == 4 and error.last_finite_step == 3
  assert 'critic_loss' in error.bad and 'global step 4' in str(error)
  assert all(math.isfinite(v) for v in error.last_finite.values())
  checkpoint_dir = os.path.join(out, 'checkpoints')
  assert tf.train.latest_checkpoint(checkpoint_dir).endswith('ckpt-1')
  assert not glob.glob(os.path.join(checkpoint_dir, 'ckpt-2*'))

  restored = Defender(_SHAPE, **_TINY)
  assert restored.restore_checkpoint(out) == 1 and restored.step == 2
  for saved, value in zip(good, restored.generator.get_weights()):
    np.testing.assert_array_equal(saved, value)
  assert all(np.all(np.isfinite(w)) for w in restored.critic.get_weights())
  # Training goes on from the good checkpoint; the NaN rows are dropped.
  restored.fit(x, output_dir=out, epochs=2, verbose=0)
  rows = _read_csv(os.path.join(out, 'losses.csv'))
  assert [int(r['step']) for r in rows] == [1, 2, 3, 4]
  assert all(math.isfinite(float(r['critic_loss'])) for r in rows)


def test_fit_without_output_dir_still_guards_and_counts_epochs():
  defender = Defender(_SHAPE, **_TINY)
  defender.fit(_images(), epochs=1, verbose=0)
  assert defender.epoch == 1
  with pytest.raises(NonFiniteLossError):
    defender.fit(_images(), epochs=2, verbose=0, callbacks=[_PoisonCritic(epoch=1)])
  assert defender.epoch == 1  # The broken epoch is not counted.


# --------------------------------------------------------------- save / load


@pytest.fixture(scope='module')
def trained():
  defender = Defender(_SHAPE, target_mode='mean', **_TINY)
  defender.fit(_images(), epochs=1, verbose=0)
  return defender


def test_save_load_round_trip(trained, tmp_path):
  directory = trained.save(str(tmp_path / 'saved'))
  assert sorted(os.listdir(directory)) == [
      'critic.keras', 'defender.json', 'generator.keras', 'sim_target.npy']
  loaded = Defender.load(directory)
  assert loaded.config == trained.config and loaded.image_shape == _SHAPE
  assert loaded.epoch == 1
  np.testing.assert_array_equal(loaded.sim_target, trained.sim_target)
  np.testing.assert_allclose(  # The 'mean' target of the training images.
      loaded.sim_target[0], _images().mean(axis=0), rtol=1e-5, atol=1e-6)
  z = np.random.default_rng(5).standard_normal((6, 4)).astype(np.float32)
  np.testing.assert_array_equal(
      loaded.generator(z, training=False).numpy(), trained.generator(z, training=False).numpy())
  images = _images(6, seed=9)
  np.testing.assert_array_equal(loaded.critic(images).numpy(), trained.critic(images).numpy())
  # The files are plain functional Keras models.
  generator = tf.keras.models.load_model(os.path.join(directory, 'generator.keras'))
  assert isinstance(generator, tf.keras.Model) and not isinstance(generator, tf.keras.Sequential)
  assert generator.__class__.__name__ == 'Functional'
  # Same projection from the loaded defender.
  y = np.arange(6)
  np.testing.assert_array_equal(
      loaded.obfuscate(images, y, progress=False)[0], trained.obfuscate(images, y, progress=False)[0])


def test_load_reports_missing_and_corrupt_files(trained, tmp_path):
  with pytest.raises(FileNotFoundError, match='no such directory'):
    Defender.load(str(tmp_path / 'nothing'))
  directory = trained.save(str(tmp_path / 'saved'))
  os.remove(os.path.join(directory, 'generator.keras'))
  with pytest.raises(FileNotFoundError, match='generator.keras is missing'):
    Defender.load(directory)
  directory = trained.save(str(tmp_path / 'saved'))
  with open(os.path.join(directory, 'generator.keras'), 'wb') as f:
    f.write(b'not a zip file')
  with pytest.raises(ValueError, match='generator.keras is not a readable Keras model'):
    Defender.load(directory)
  directory = trained.save(str(tmp_path / 'saved'))
  with open(os.path.join(directory, 'defender.json'), 'w') as f:
    f.write('{"format_version": 1, "image_shape": [8, 8')
  with pytest.raises(ValueError, match='defender.json is corrupt'):
    Defender.load(directory)
  directory = trained.save(str(tmp_path / 'saved'))
  meta_path = os.path.join(directory, 'defender.json')
  with open(meta_path) as f:
    meta = json.load(f)
  meta['config']['generator_width'] = 3  # Saved weights no longer fit.
  with open(meta_path, 'w') as f:
    json.dump(meta, f)
  with pytest.raises(ValueError, match='does not match the architecture'):
    Defender.load(directory)


def test_load_never_runs_code_from_a_model_file(trained, tmp_path):
  """An HDF5 model with a Lambda layer, named generator.keras, is refused
  before its code runs (Keras's load_model would run it)."""
  marker = tmp_path / 'code_ran'
  inputs = tf.keras.Input((4,))
  outputs = tf.keras.layers.Lambda(
      lambda t, path=str(marker): (open(path, 'w').close(), t)[1])(inputs)
  tf.keras.Model(inputs, outputs).save(str(tmp_path / 'evil.h5'), save_format='h5')
  marker.unlink(missing_ok=True)  # Saving traced the lambda once.
  directory = trained.save(str(tmp_path / 'saved'))
  shutil.copy(tmp_path / 'evil.h5', os.path.join(directory, 'generator.keras'))
  with pytest.raises(ValueError, match='not a .keras .zip. file'):
    Defender.load(directory)
  assert not marker.exists()
  # A zip that is not a .keras file is refused too, with the file named.
  with zipfile.ZipFile(os.path.join(directory, 'generator.keras'), 'w') as f:
    f.writestr('readme.txt', 'no weights here')
  with pytest.raises(ValueError, match='generator.keras does not match the architecture'):
    Defender.load(directory)


# ------------------------------------------------------------- obfuscation


def test_obfuscate_shapes_labels_and_mixing(trained):
  x = _images(10, seed=2)
  y = np.array([6, 6, 1, 6, 2, 6, 6, 3, 6, 6], np.int64)
  x_prime, y_prime = trained.obfuscate(x, y, progress=False)
  assert x_prime.shape == x.shape and x_prime.dtype == np.float32
  assert np.all(np.abs(x_prime) <= 1.0)
  np.testing.assert_array_equal(y_prime, y)  # MR = 0: order and labels kept.
  assert y_prime.dtype == y.dtype
  assert not any(np.array_equal(a, b) for a in x_prime for b in x)  # No real image.
  # 'add': all 10 projected, round(0.5 * 10) = 5 real ones added.
  add = dataclasses.replace(trained.config, mix_mode='add')
  # 'replace' (the default): 10 shared, round(10 / 1.5) = 7 projected, 3 real.
  for config, total, num_real in ((add, 15, 5), (trained.config, 10, 3)):
    trained.config = config
    try:
      mixed_x, mixed_y = trained.obfuscate(x, y, mix_ratio=0.5, progress=False)
    finally:
      trained.config = dataclasses.replace(config, mix_mode='replace')
    assert mixed_x.shape == (total, *_SHAPE) and mixed_y.shape == (total,)
    real_rows = [i for i, a in enumerate(mixed_x) if any(np.array_equal(a, b) for b in x)]
    assert len(real_rows) == num_real
    for i in real_rows:  # Each real image keeps its own label.
      j = next(j for j, b in enumerate(x) if np.array_equal(mixed_x[i], b))
      assert mixed_y[i] == y[j]
  assert sorted(mixed_y.tolist()) == sorted(y.tolist())  # 'replace': each image once.
  with pytest.raises(ValueError, match='mix_ratio'):
    trained.obfuscate(x, y, mix_ratio=-1.0, progress=False)
  with pytest.raises(ValueError, match=r'shape \(10,\)'):
    trained.obfuscate(x, y[:9], progress=False)
  with pytest.raises(ValueError, match='integer labels'):
    trained.obfuscate(x, y.astype(np.float32), progress=False)
  with pytest.raises(ValueError, match=r'labels non-negative, got \[-1\]'):
    trained.obfuscate(x, np.where(y == y[0], -1, y), progress=False)
  with pytest.raises(ValueError, match=r'labels in \[0, 10\), got \[255\]'):
    trained.obfuscate(x, np.where(y == y[0], 255, y), progress=False, num_classes=10)


def test_an_untrained_defender_refuses_to_obfuscate():
  defender = Defender(_SHAPE, **_TINY)
  with pytest.raises(RuntimeError, match='not trained: call fit'):
    defender.obfuscate(_images(4), np.zeros(4, np.int64), progress=False)
  dataset = tf.data.Dataset.from_tensor_slices((_images(4), np.zeros(4, np.int64)))
  with pytest.raises(RuntimeError, match='not trained'):
    dataset.apply(defender.as_dataset_transform())


def test_as_dataset_transform_matches_obfuscate(trained):
  x = _images(10, seed=4)
  y = np.arange(10, dtype=np.int32)
  expected_x, expected_y = trained.obfuscate(x, y, progress=False)
  transform = trained.as_dataset_transform(batch_size=trained.config.projection_batch_size)
  for dataset in (tf.data.Dataset.from_tensor_slices((x, y)),
                  tf.data.Dataset.from_tensor_slices((x, y)).batch(4)):
    out = dataset.apply(transform)
    assert out.element_spec[0].shape == _SHAPE and out.element_spec[1].dtype == tf.int32
    got = list(out.as_numpy_iterator())
    np.testing.assert_array_equal(np.stack([g[0] for g in got]), expected_x)
    np.testing.assert_array_equal(np.array([g[1] for g in got]), expected_y)
  with pytest.raises(ValueError, match=r'\(image, label\) pairs'):
    transform(tf.data.Dataset.from_tensor_slices(x))
  with pytest.raises(ValueError, match='batch_size'):
    trained.as_dataset_transform(batch_size=0)


def test_export_npz_is_atomic_and_has_x_and_y(trained, tmp_path):
  x = _images(5, seed=7)
  y = np.full(5, 6, np.int32)
  path = trained.export_npz(str(tmp_path / 'out' / 'x_prime.npz'), x, y, progress=False)
  assert os.listdir(tmp_path / 'out') == ['x_prime.npz']  # No temp file left.
  with np.load(path) as data:
    assert sorted(data.files) == ['x', 'y']
    assert data['x'].shape == x.shape and data['x'].dtype == np.float32
    np.testing.assert_array_equal(data['y'], y)
  with pytest.raises(ValueError, match='NaN'):
    trained.export_npz(str(tmp_path / 'bad.npz'), np.full_like(x, np.nan), y)
  assert not os.path.exists(tmp_path / 'bad.npz')


# -------------------------------------------------------------- validation


@pytest.mark.parametrize(
    'x, message',
    [
        (np.zeros((4, 8, 8), np.float32), r'\[\.\.\., None\]'),
        (np.zeros((4, 16, 16, 1), np.float32), r'shape \(N, 8, 8, 1\)'),
        (np.zeros((0, 8, 8, 1), np.float32), 'empty'),
        (np.full((4, 8, 8, 1), np.nan, np.float32), '256 NaN/inf'),
        (np.full((4, 8, 8, 1), 255, np.uint8), r'\[-1, 1\].*127\.5'),
        (np.full((4, 8, 8, 1), -1.5, np.float32), 'min -1.5'),
        (np.array([['a']]), 'dtype'),
    ],
)
def test_fit_rejects_bad_images(trained, x, message):
  with pytest.raises(ValueError, match=message):
    trained.fit(x, epochs=2, verbose=0)
  assert trained.epoch == 1  # Nothing was trained.


def test_fit_rejects_bad_epochs(trained):
  with pytest.raises(ValueError, match='epochs'):
    trained.fit(_images(), epochs=0, verbose=0)


@pytest.mark.parametrize(
    'field, value',
    [
        ('lambda1', -1.0), ('lambda2', float('nan')), ('variance_mode', 'up'),
        ('target_mode', 'median'), ('latent_dim', 0), ('batch_size', 1.5),
        ('n_critic', True), ('generator_learning_rate', 0.0), ('critic_learning_rate', 'x'),
        ('adam_beta_2', 1.0), ('mix_ratio', -0.1), ('epochs', 0), ('seed', -1),
        ('restarts', 0), ('projection_steps', -1), ('gp_weight', float('inf')),
    ],
)
def test_config_rejects_bad_fields(field, value):
  with pytest.raises(ValueError, match=f'DefenderConfig.{field} '):
    DefenderConfig(**{field: value})
  with pytest.raises(ValueError, match=f'DefenderConfig.{field} '):
    Defender(_SHAPE, **{field: value})


def test_config_defaults_normalisation_and_unknown_fields():
  config = DefenderConfig(lambda2=40, restarts=np.int64(3))
  assert config.lambda2 == 40.0 and isinstance(config.lambda2, float)
  assert config.restarts == 3 and type(config.restarts) is int
  defaults = DefenderConfig()
  assert (defaults.lambda1, defaults.lambda2, defaults.variance_mode, defaults.target_mode) == (
      3.92, 48.0, 'max', 'per_sample')
  # The paper's lambda1 = 0.005 on the pixel sum of 28 x 28 images.
  assert losses.paper_lambda1(defaults.lambda1, (28, 28, 1)) == pytest.approx(0.005)
  assert (defaults.n_critic, defaults.gp_weight, defaults.adam_beta_1, defaults.adam_beta_2) == (
      5, 10.0, 0.0, 0.9)
  assert DefenderConfig.from_dict(defaults.to_dict()) == defaults
  with pytest.raises(ValueError, match='Unknown DefenderConfig field'):
    DefenderConfig.from_dict({'lambda3': 1})
  with pytest.raises(TypeError, match='lambda3'):
    Defender(_SHAPE, lambda3=1.0)
  with pytest.raises(ValueError, match='image_shape'):
    Defender((7, 7, 1), **_TINY)
  with pytest.raises(ValueError, match='image_shape'):
    Defender('abc', **_TINY)


def test_run_defender_config_holds_every_defender_setting_with_its_default():
  flat = DefenderRunConfig(output_dir='run').to_flat()
  defaults = DefenderConfig()
  for field in dataclasses.fields(DefenderConfig):
    assert flat[field.name] == getattr(defaults, field.name), field.name


def _run_config(**flat):
  return DefenderRunConfig.from_flat(flat)


def test_run_defender_rejects_bad_arguments_before_training(tmp_path):
  with pytest.raises(ValueError, match='--lambda1 must be'):
    _run_config(output_dir=str(tmp_path), lambda1=-1.0)
  with pytest.raises(ValueError, match='--max_images'):
    _run_config(output_dir=str(tmp_path), max_images=0)
  with pytest.raises(ValueError, match='target_class'):
    run_lib.run_defender(_run_config(output_dir=str(tmp_path), target_class=10))
  with pytest.raises(ValueError, match='export_count'):
    _run_config(output_dir=str(tmp_path), max_images=4, export_count=5)
  with pytest.raises(ValueError, match='--mix_ratio'):
    run_lib.run_defender(_run_config(output_dir=str(tmp_path), max_images=4, mix_ratio=1.5,
                                     mix_mode='add'))
  assert not os.path.exists(tmp_path / 'hparams.csv')


# --------------------------------------------------- real Fashion-MNIST runs

_REAL = dict(
    lambda1=0.0, latent_dim=32, generator_width=8, critic_width=8, n_critic=2,
    batch_size=64, seed=0, image_grid_every_n_steps=100,
)
_REAL_EPOCHS = 4  # 256 images / 64 = 4 generator steps per epoch, 16 in all.


@pytest.fixture(scope='module')
def real_runs(tmp_path_factory):
  data = load_dataset('fashion_mnist')
  x = data.x[data.y == 6][:256]
  assert x.shape == (256, 28, 28, 1)
  z = np.random.default_rng(1).standard_normal((256, _REAL['latent_dim'])).astype(np.float32)
  runs = {}
  for name, kwargs in (
      ('wgan_gp', dict(lambda2=0.0)),
      ('max', dict(lambda2=10.0, variance_mode='max')),
      ('min', dict(lambda2=10.0, variance_mode='min')),
  ):
    out = tmp_path_factory.mktemp(name)
    defender = Defender(x.shape[1:], **_REAL, **kwargs)
    history = defender.fit(x, output_dir=str(out), epochs=_REAL_EPOCHS, verbose=0)
    # Batch statistics, as in training (the BatchNorm moving averages barely
    # move in 16 steps).
    samples = defender.generator(z, training=True).numpy()
    runs[name] = dict(
        history=history.history,
        rows=_read_csv(out / 'losses.csv'),
        variance=float(np.mean(np.var(samples.reshape(len(samples), -1), axis=1))),
    )
  return runs


def test_real_fashion_mnist_losses_are_finite_and_the_critic_learns(real_runs):
  rows = real_runs['wgan_gp']['rows']
  assert [int(r['step']) for r in rows] == list(range(1, 4 * _REAL_EPOCHS + 1))
  for name in ('critic_loss', 'generator_loss', 'gradient_penalty', 'wasserstein'):
    assert all(math.isfinite(float(r[name])) for r in rows), name
  first, last = float(rows[0]['wasserstein']), float(rows[-1]['wasserstein'])
  assert abs(last - first) > 1e-3, (first, last)
  # The critic separates real from generated images better than at the start.
  assert last > first


def test_variance_modes_push_generated_pixel_variance_in_opposite_directions(real_runs):
  plain = real_runs['wgan_gp']
  high = real_runs['max']
  low = real_runs['min']
  # Fresh samples after training, and the variance tracked on the last epoch.
  assert high['variance'] > plain['variance'] > low['variance'], (
      high['variance'], plain['variance'], low['variance'])
  last = {name: run['history']['pixel_variance'][-1] for name, run in real_runs.items()}
  assert last['max'] > last['wgan_gp'] > last['min'], last
  # Not a rounding difference: each mode moves the variance by > 10 %.
  assert high['variance'] > 1.1 * plain['variance'] > 1.21 * low['variance']
