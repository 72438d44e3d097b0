"""`--precision`: the Keras policy of the GAN networks, float32 outputs under it."""

import numpy as np
import pytest
import tensorflow as tf

from antigan_tf import attack
from antigan_tf import models
from antigan_tf.utils import precision


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
  with_amx = tmp_path / 'amx'
  with_amx.write_text('processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile\n')
  # AVX512-BF16 alone measured no faster than float32 here: auto keeps float32.
  avx512_only = tmp_path / 'avx512'
  avx512_only.write_text('processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16\n')
  assert precision.cpu_supports_bfloat16(str(with_amx))
  assert not precision.cpu_supports_bfloat16(str(avx512_only))
  assert not precision.cpu_supports_bfloat16(str(tmp_path / 'missing'))


def test_resolve_names_a_policy():
  assert precision.resolve('float32') == 'float32'
  assert precision.resolve('mixed_bfloat16') == 'mixed_bfloat16'
  expected = ('mixed_bfloat16' if precision.cpu_supports_bfloat16()
              or precision.gpu_supports_bfloat16() else 'float32')
  assert precision.resolve('auto') == expected
  with pytest.raises(ValueError, match='precision'):
    precision.resolve('float16')


def test_scope_builds_bfloat16_layers_with_float32_outputs_and_restores_the_policy():
  before = tf.keras.mixed_precision.global_policy().name
  with precision.policy_scope('mixed_bfloat16') as name:
    generator = models.build_generator((8, 8, 1), 4, width=4, upsampling='resize')
    critic = models.build_critic((8, 8, 1), width=4)
  assert name == 'mixed_bfloat16'
  assert tf.keras.mixed_precision.global_policy().name == before
  hidden = [layer for layer in generator.layers if isinstance(layer, tf.keras.layers.Conv2D)]
  assert hidden[0].compute_dtype == 'bfloat16'
  assert all(v.dtype == tf.float32 for v in generator.weights)  # Float32 variables.
  images = generator(tf.random.normal([3, 4]))
  assert images.dtype == tf.float32 and critic(images).dtype == tf.float32
  # Built after the scope: float32 again (the TFF classifier is built so).
  assert models.build_classifier((8, 8, 1), 3).layers[1].compute_dtype == 'float32'


@pytest.mark.parametrize('policy', ['float32', 'mixed_bfloat16'])
def test_black_box_attacker_trains_in_both_precisions(policy):
  images = np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 1)).astype(np.float32)
  result = attack.train_black_box_attacker(
      images, steps=2, batch_size=8, latent_dim=4, width=4, num_reconstructions=5,
      precision=policy)
  assert result.reconstructions.dtype == np.float32
  assert np.isfinite(result.reconstructions).all()
  assert all(np.isfinite(v).all() for v in result.history.values())
