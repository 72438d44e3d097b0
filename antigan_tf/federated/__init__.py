"""TFF wiring: the managed runtime and its workers, client data, the FedAvg /
DP-FedAvg processes, the victim's preprocessing hook and the federated
experiment.

The only subpackage that imports TensorFlow Federated. Where TFF is not
installed (the plain-TF install, Python 3.12 and later), importing it raises
`FederatedStackMissing`, a ModuleNotFoundError that names the extra and the
Pythons it needs. Its exports load lazily, so `antigan_tf.federated.config`
(plain Python) does not pay for importing TFF.
"""

from antigan_tf.utils import lazy_exports
from antigan_tf.utils import stacks

if not stacks.has_tff():
  raise stacks.FederatedStackMissing()

_EXPORTS = {
    'build_client_data': 'antigan_tf.federated.client_data',
    'build_preprocess_fn': 'antigan_tf.federated.client_data',
    'compose_with_dataset_computation': 'antigan_tf.federated.client_data',
    'build_learning_process': 'antigan_tf.federated.processes',
    'build_model_fn': 'antigan_tf.federated.processes',
    'ManagedRuntime': 'antigan_tf.federated.runtime',
    'NotMergeableError': 'antigan_tf.federated.runtime',
    'WorkerLostError': 'antigan_tf.federated.workers',
    'CheckpointError': 'antigan_tf.federated.training',
    'FederatedResult': 'antigan_tf.federated.training',
    'run_federated': 'antigan_tf.federated.training',
    'ExperimentConfig': 'antigan_tf.federated.config',
    'anti_gan_transform': 'antigan_tf.federated.victim',
    'dataset_transform_hook': 'antigan_tf.federated.victim',
}
__getattr__, __dir__ = lazy_exports.module_attributes(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
