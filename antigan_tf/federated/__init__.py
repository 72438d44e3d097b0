"""TFF wiring: the managed runtime, client data and federated training.

The only subpackage that imports TensorFlow Federated.
"""

from antigan_tf.federated.client_data import build_client_data
from antigan_tf.federated.client_data import build_preprocess_fn
from antigan_tf.federated.client_data import compose_with_dataset_computation
from antigan_tf.federated.runtime import ManagedRuntime
from antigan_tf.federated.runtime import managed_runtime
from antigan_tf.federated.training import FedAvgResult
from antigan_tf.federated.training import run_fedavg
