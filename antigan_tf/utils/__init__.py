"""Small shared helpers with no TensorFlow dependency."""

from antigan_tf.utils.io import write_hparams_csv
