"""Shape and contract tests for the model builders."""

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf import models


@pytest.mark.parametrize('shape', [(28, 28, 1), (32, 32, 3)])
def test_classifier_outputs_logits_per_class(shape):
  model = models.build_classifier(shape, num_classes=10, width=4, dense_units=8)
  x = tf.random.uniform((3,) + shape, -1.0, 1.0)
  logits = model(x)
  assert logits.shape == (3, 10)
  # Logits, not probabilities: rows need not sum to 1.
  assert not np.allclose(tf.reduce_sum(logits, axis=1).numpy(), 1.0)


@pytest.mark.parametrize('shape', [(28, 28, 1), (32, 32, 3)])
def test_classifier_has_no_batchnorm_or_non_trainable_state(shape):
  model = models.build_classifier(shape, width=4, dense_units=8)
  assert not any(
      isinstance(layer, tf.keras.layers.BatchNormalization) for layer in model.layers
  )
  assert model.non_trainable_weights == []


@pytest.mark.parametrize('upsampling', ['transposed', 'resize'])
@pytest.mark.parametrize('shape', [(28, 28, 1), (32, 32, 3)])
def test_generator_maps_latent_to_images_in_range(shape, upsampling):
  generator = models.build_generator(shape, latent_dim=16, width=4, upsampling=upsampling)
  images = generator(tf.random.normal((5, 16)) * 50.0, training=False)
  assert images.shape == (5,) + shape
  assert float(tf.reduce_min(images)) >= -1.0
  assert float(tf.reduce_max(images)) <= 1.0


@pytest.mark.parametrize('shape', [(28, 28, 1), (32, 32, 3)])
def test_critic_scores_each_image(shape):
  critic = models.build_critic(shape, width=4)
  scores = critic(tf.random.uniform((4,) + shape, -1.0, 1.0))
  assert scores.shape == (4, 1)
  assert not any(
      isinstance(layer, tf.keras.layers.BatchNormalization) for layer in critic.layers
  )


def test_generator_feeds_critic_end_to_end():
  generator = models.build_generator((28, 28, 1), latent_dim=8, width=4)
  critic = models.build_critic((28, 28, 1), width=4)
  z = tf.random.normal((2, 8))
  with tf.GradientTape() as tape:
    score = tf.reduce_mean(critic(generator(z)))
  grads = tape.gradient(score, generator.trainable_variables)
  assert all(g is not None for g in grads)


def test_models_are_functional_and_serialisable(tmp_path):
  model = models.build_classifier((28, 28, 1), width=4, dense_units=8)
  clone = tf.keras.models.clone_model(model)
  assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
  path = str(tmp_path / 'classifier.keras')
  model.save(path)
  restored = tf.keras.models.load_model(path)
  x = tf.zeros((1, 28, 28, 1))
  np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    'builder, kwargs, message',
    [
        (models.build_classifier, {'input_shape': (28, 28)}, 'input_shape'),
        (models.build_classifier, {'input_shape': (30, 30, 1)}, 'multiples of 4'),
        (models.build_classifier, {'input_shape': (28, 28, 2)}, '1 or 3 channels'),
        (models.build_classifier, {'num_classes': 0}, 'num_classes'),
        (models.build_generator, {'latent_dim': -1}, 'latent_dim'),
        (models.build_generator, {'image_shape': (4, 4, 1)}, '>= 8'),
        (models.build_critic, {'width': 0}, 'width'),
        (models.build_generator, {'upsampling': 'bilinear'}, 'upsampling'),
    ],
)
def test_bad_arguments_name_the_argument(builder, kwargs, message):
  with pytest.raises(ValueError, match=message):
    builder(**kwargs)


def test_resize_upsampling_has_no_transposed_convolution():
  # Transposed stride-2 convolutions overlap unevenly: checkerboards.
  generator = models.build_generator((28, 28, 1), 8, width=4, upsampling='resize')
  kinds = {type(layer).__name__ for layer in generator.layers}
  assert 'Conv2DTranspose' not in kinds and 'UpSampling2D' in kinds
