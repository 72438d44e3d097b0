"""TFF wiring: the managed runtime and its workers, client data, the FedAvg /
DP-FedAvg processes, the victim's preprocessing hook and the federated
experiment.

The only subpackage that imports TensorFlow Federated.
"""

from antigan_tf.federated.client_data import build_client_data
from antigan_tf.federated.client_data import build_preprocess_fn
from antigan_tf.federated.client_data import compose_with_dataset_computation
from antigan_tf.federated.processes import build_learning_process
from antigan_tf.federated.processes import build_model_fn
from antigan_tf.federated.runtime import ManagedRuntime
from antigan_tf.federated.runtime import NotMergeableError
from antigan_tf.federated.training import CheckpointError
from antigan_tf.federated.training import FederatedResult
from antigan_tf.federated.training import run_federated
from antigan_tf.federated.victim import anti_gan_transform
from antigan_tf.federated.victim import dataset_transform_hook
from antigan_tf.federated.workers import WorkerLostError
