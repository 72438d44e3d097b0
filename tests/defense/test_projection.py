"""Tests of `antigan_tf.defense.projection.project` on a tiny generator."""

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf.defense import losses
from antigan_tf.defense import projection
from antigan_tf.models import builders

SHAPE = (8, 8, 1)
LATENT = 4


@pytest.fixture(scope='module')
def generator():
  tf.keras.utils.set_random_seed(1)
  return builders.build_generator(SHAPE, latent_dim=LATENT, width=2)


@pytest.fixture(scope='module')
def images():
  return np.random.default_rng(0).uniform(-1, 1, (5,) + SHAPE).astype(np.float32)


def _project(generator, x, **kwargs):
  args = dict(lambda1=1.0, lambda2=0.1, restarts=2, steps=5, batch_size=4, progress=False)
  args.update(kwargs)
  return projection.project(generator, x, **args)


class _Recorder(tf.keras.layers.Layer):
  """Identity layer counting its runs and the batch size it last saw."""

  def build(self, input_shape):
    self.calls = self.add_weight(name='calls', shape=(), dtype=tf.int32, initializer='zeros',
                                 trainable=False)
    self.last_batch = self.add_weight(name='last_batch', shape=(), dtype=tf.int32,
                                      initializer='zeros', trainable=False)
    self.traced_batches = []

  def call(self, z):
    self.traced_batches.append(z.shape[0])  # Static shape, at trace time.
    self.calls.assign_add(1)
    self.last_batch.assign(tf.shape(z)[0])
    return tf.identity(z)


def _recording_generator(generator):
  z = tf.keras.Input((LATENT,))
  recorder = _Recorder()
  model = tf.keras.Model(z, generator(recorder(z), training=False))
  recorder.traced_batches.clear()  # Drop the symbolic build call.
  return model, recorder


def test_result_types_and_shapes(generator, images):
  result = _project(generator, images)
  assert isinstance(result, projection.ProjectionResult)
  assert result.images.shape == images.shape and result.images.dtype == np.float32
  assert result.latents.shape == (5, LATENT) and result.latents.dtype == np.float32
  assert result.objective.shape == (5,) and result.objective.dtype == np.float32
  # The kept images are G(z*) and the objective is evaluated there.
  regenerated = generator(result.latents, training=False)
  np.testing.assert_allclose(result.images, regenerated.numpy(), atol=1e-5)
  expected = losses.anti_gan_objective(
      regenerated, images, lambda1=1.0, lambda2=0.1, reduce=False)
  np.testing.assert_allclose(result.objective, expected.numpy(), rtol=1e-4, atol=1e-5)


def test_optimisation_lowers_the_objective(generator, images):
  # steps=0 evaluates exactly the initial z of restart 0 (same seed).
  start = _project(generator, images, lambda2=0.0, restarts=1, steps=0)
  end = _project(generator, images, lambda2=0.0, restarts=1, steps=30)
  assert end.objective.mean() < start.objective.mean() - 1e-3
  assert not np.allclose(end.latents, start.latents)


def test_latent_shell_penalty_by_hand():
  z = tf.constant([[1.0, -1.0], [2.0, 0.0], [0.0, 0.0]])  # ||z||^2 / d = 1, 2, 0.
  np.testing.assert_allclose(projection.latent_shell_penalty(z).numpy(), [0.0, 1.0, 1.0])


def test_latent_prior_keeps_z_on_the_shell(generator, images):
  # A large step size drives z far from N(0, I)'s shell without the prior.
  kwargs = dict(lambda2=0.0, restarts=1, steps=60, learning_rate=0.5)
  free = _project(generator, images, **kwargs)
  held = _project(generator, images, latent_weight=100.0, **kwargs)
  penalty = lambda r: projection.latent_shell_penalty(tf.constant(r.latents)).numpy().mean()
  assert penalty(held) < 0.5 * penalty(free)
  # The objective reported is the one minimised, prior included.
  regenerated = generator(held.latents, training=False)
  expected = losses.anti_gan_objective(regenerated, images, lambda1=1.0, lambda2=0.0,
                                       reduce=False)
  expected += 100.0 * projection.latent_shell_penalty(tf.constant(held.latents))
  np.testing.assert_allclose(held.objective, expected.numpy(), rtol=1e-4, atol=1e-4)


def test_more_restarts_never_worse_than_one(generator, images):
  one = _project(generator, images, restarts=1, steps=5, batch_size=8)
  three = _project(generator, images, restarts=3, steps=5, batch_size=8)
  assert np.all(three.objective <= one.objective + 1e-4)


def test_kept_restart_is_argmin_of_an_independent_reference(generator, images):
  x = images[:2]
  restarts, steps, lr, seed = 3, 4, 0.05, 7
  result = _project(generator, x, restarts=restarts, steps=steps, learning_rate=lr,
                    seed=seed, batch_size=2)
  # Eager reference: same documented draws, one restart at a time.
  chunk_rng = tf.random.Generator.from_seed(seed).split(1)[0]
  z0 = tf.concat([chunk_rng.normal([2, LATENT]), chunk_rng.normal([4, LATENT])], 0)
  z0 = tf.reshape(z0, [restarts, 2, LATENT])
  finals, values = [], []
  for r in range(restarts):
    z = tf.Variable(z0[r])
    m = tf.zeros_like(z)
    v = tf.zeros_like(z)
    for t in range(1, steps + 1):
      with tf.GradientTape() as tape:
        obj = losses.anti_gan_objective(
            generator(z, training=False), x, lambda1=1.0, lambda2=0.1, reduce=False)
        total = tf.reduce_sum(obj)
      g = tape.gradient(total, z)
      m = 0.9 * m + 0.1 * g
      v = 0.999 * v + 0.001 * g * g
      z.assign_sub(lr * (m / (1 - 0.9**t)) / (tf.sqrt(v / (1 - 0.999**t)) + 1e-8))
    finals.append(z.numpy())
    values.append(losses.anti_gan_objective(
        generator(z, training=False), x, lambda1=1.0, lambda2=0.1, reduce=False).numpy())
  values = np.stack(values)  # (R, N)
  np.testing.assert_allclose(result.objective, values.min(axis=0), rtol=1e-4, atol=1e-4)
  best = values.argmin(axis=0)
  np.testing.assert_allclose(result.latents, np.stack(finals)[best, [0, 1]], atol=1e-4)
  # The restarts really differ, so the argmin is meaningful.
  assert np.ptp(values, axis=0).min() > 1e-3


def test_restarts_are_batched_and_traced_once(generator, images, monkeypatch):
  built = []
  calls = []
  make = projection._make_projection_fn

  def spy(*args, **kwargs):
    fn = make(*args, **kwargs)
    built.append(fn)

    def counted(*a):
      calls.append(a[1].shape)
      return fn(*a)
    return counted

  monkeypatch.setattr(projection, '_make_projection_fn', spy)
  wrapped, recorder = _recording_generator(generator)
  steps, restarts, batch = 3, 3, 2
  projection.project(wrapped, images, lambda1=1.0, lambda2=0.1, restarts=restarts,
                     steps=steps, batch_size=batch, progress=False)  # 3 chunks.
  assert len(built) == 1
  assert len(calls) == 3  # Once per chunk.
  assert all(shape == (batch * restarts, LATENT) for shape in calls)
  assert built[0].experimental_get_tracing_count() == 1
  # One generator call per step plus the final evaluation, per chunk, each
  # on all restarts of the chunk at once.
  assert int(recorder.calls.numpy()) == 3 * (steps + 1)
  assert int(recorder.last_batch.numpy()) == batch * restarts
  assert set(recorder.traced_batches) == {batch * restarts}
  # Trace count does not grow with the chunks: one chunk traces as much.
  projection.project(wrapped, images[:2], lambda1=1.0, lambda2=0.1, restarts=restarts,
                     steps=steps, batch_size=batch, progress=False)
  assert built[1].experimental_get_tracing_count() == 1
  assert len(calls) == 4


def test_steps_zero_is_plain_sampling(generator, images):
  result = _project(generator, images, steps=0, restarts=5)
  np.testing.assert_allclose(
      result.images, generator(result.latents, training=False).numpy(), atol=1e-6)
  assert np.all(np.isfinite(result.objective))
  # R is ignored: the latents are those of restarts=1.
  single = _project(generator, images, steps=0, restarts=1)
  np.testing.assert_array_equal(result.latents, single.latents)
  # Different inputs get different random latents.
  assert np.unique(result.latents, axis=0).shape[0] == len(images)


@pytest.mark.parametrize('mode', ['mean', 'mean_maxpool'])
def test_mean_targets(generator, images, mode):
  target = losses.similarity_target(images, mode=mode).numpy()
  given = _project(generator, images[:3], target_mode=mode, target=target)
  expected = losses.anti_gan_objective(
      generator(given.latents, training=False), target, lambda1=1.0, lambda2=0.1,
      target_mode=mode, reduce=False)
  np.testing.assert_allclose(given.objective, expected.numpy(), rtol=1e-4, atol=1e-5)
  # target=None uses the mean of x itself.
  own = _project(generator, images, target_mode=mode)
  explicit = _project(generator, images, target_mode=mode, target=target)
  np.testing.assert_allclose(own.objective, explicit.objective, rtol=1e-5)
  with pytest.raises(ValueError, match='target'):
    _project(generator, images, target_mode=mode, target=np.zeros((1, 3, 3, 1)))


def test_mean_maxpool_target_shape_is_pooled(generator, images):
  with pytest.raises(ValueError, match=r'\(1, 4, 4, 1\)'):
    _project(generator, images, target_mode='mean_maxpool', target=np.zeros((1,) + SHAPE))


def test_per_sample_rejects_a_target(generator, images):
  with pytest.raises(ValueError, match='target'):
    _project(generator, images, target=images[:1])


def test_seed_determinism(generator, images):
  a = _project(generator, images, seed=3)
  b = _project(generator, images, seed=3)
  c = _project(generator, images, seed=4)
  np.testing.assert_array_equal(a.latents, b.latents)
  np.testing.assert_array_equal(a.images, b.images)
  np.testing.assert_array_equal(a.objective, b.objective)
  assert not np.allclose(a.latents, c.latents)


def test_all_non_finite_restarts_raise(images):
  # A generator whose output is NaN makes every restart non-finite.
  z = tf.keras.Input((LATENT,))
  nan = tf.keras.layers.Lambda(
      lambda t: tf.fill([tf.shape(t)[0], *SHAPE], np.float32(np.nan)))(z)
  broken = tf.keras.Model(z, nan)
  with pytest.raises(ValueError, match='sample 0'):
    _project(broken, images, steps=1)


@pytest.mark.parametrize('kwargs, name', [
    (dict(restarts=0), 'restarts'),
    (dict(restarts=1.5), 'restarts'),
    (dict(steps=-1), 'steps'),
    (dict(lambda1=-1.0), 'lambda1'),
    (dict(lambda1=float('nan')), 'lambda1'),
    (dict(lambda2=-0.1), 'lambda2'),
    (dict(lambda2=float('inf')), 'lambda2'),
    (dict(learning_rate=0.0), 'learning_rate'),
    (dict(learning_rate=-1.0), 'learning_rate'),
    (dict(batch_size=0), 'batch_size'),
    (dict(variance_mode='maximum'), 'variance_mode'),
    (dict(target_mode='median'), 'target_mode'),
    (dict(pool_size=0), 'pool_size'),
    (dict(latent_weight=-1.0), 'latent_weight'),
])
def test_bad_arguments(generator, images, kwargs, name):
  with pytest.raises(ValueError, match=name):
    _project(generator, images, **kwargs)


def test_bad_inputs(generator, images):
  # The message names both the generator's shape and the input's.
  with pytest.raises(ValueError, match=r'\(8, 8, 1\).*\(2, 9, 9, 1\)'):
    _project(generator, np.zeros((2, 9, 9, 1), np.float32))
  with pytest.raises(ValueError, match=r'\(8, 8, 1\).*\(8, 8, 1\)'):
    _project(generator, np.zeros(SHAPE, np.float32))  # No batch axis.
  with pytest.raises(ValueError, match='empty'):
    _project(generator, np.zeros((0,) + SHAPE, np.float32))
