"""Data: offline-capable dataset loaders, client partitions, client stores.

Plain numpy / TensorFlow only; the TFF view is `antigan_tf.federated.client_data`.
"""

from antigan_tf.data.client_store import ClientStore
from antigan_tf.data.client_store import write_client_store
from antigan_tf.data.partition import ClientPartition
from antigan_tf.data.partition import PartitionSpec
from antigan_tf.data.partition import describe
from antigan_tf.data.partition import partition_clients
from antigan_tf.data.sources import DATASET_NAMES
from antigan_tf.data.sources import DatasetNotFoundError
from antigan_tf.data.sources import ImageDataset
from antigan_tf.data.sources import load_dataset
from antigan_tf.data.sources import load_local
from antigan_tf.data.sources import validate_images
