"""Client partitions for the GAN-attack setting of Hitaj et al. / Luo & Zhu.

The roles follow section 3.1 of the Anti-GAN paper: the *victim* declares
classes [a, b] and exclusively holds the target class a; the *adversary*
declares [b, c] (two classes, never the target) and tries to reconstruct a;
every other class is spread over *honest* clients, IID or by a seeded
Dirichlet(alpha) draw per class.

A partition is a set of index arrays into one labelled dataset, so it is cheap
to keep, to hash and to reproduce; `client_arrays` / `client_dataset` turn it
into numpy arrays or a plain `tf.data.Dataset` (no TFF needed). The TFF view
lives in `antigan_tf.federated.client_data`.
"""

import collections
from collections.abc import Mapping
import dataclasses
import hashlib
import json
from typing import Optional

import numpy as np

from antigan_tf.utils import checks

VICTIM_ID = 'victim'
ADVERSARY_ID = 'adversary'
HONEST_PREFIX = 'honest_'

_DISTRIBUTIONS = ('iid', 'dirichlet')
# Dirichlet draws that leave an honest client empty are redrawn this many times.
_MAX_DIRICHLET_DRAWS = 100


@dataclasses.dataclass(frozen=True)
class PartitionSpec:
  """What to build: the paper's roles over `num_clients` clients.

  Attributes:
    num_clients: K, total clients including victim and adversary (>= 3).
    target_class: class a, held by the victim alone (the paper uses 6).
    adversary_classes: the adversary's two classes [b, c]; never the target.
    victim_shared_class: optional class b that the victim also declares; the
      victim gets `victim_shared_fraction` of its examples, the other holders
      the rest. None: the victim holds only the target class.
    victim_shared_fraction: share of `victim_shared_class` given to the victim.
    honest_distribution: 'iid' (pooled, shuffled, equal shares) or
      'dirichlet' (per class, shares ~ Dirichlet(dirichlet_alpha)).
    dirichlet_alpha: concentration for 'dirichlet'; small = more skewed.
    max_examples_per_client: optional cap per client (for tiny runs); a seeded
      subsample keeps the client's class mix.
    seed: seed of every random choice; the same spec and labels give the
      same partition.
  """

  num_clients: int = 10
  target_class: int = 6
  adversary_classes: tuple[int, ...] = (0, 1)
  victim_shared_class: Optional[int] = None
  victim_shared_fraction: float = 0.5
  honest_distribution: str = 'iid'
  dirichlet_alpha: float = 0.5
  max_examples_per_client: Optional[int] = None
  seed: int = 0

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), sort_keys=True)


@dataclasses.dataclass(frozen=True)
class ClientPartition:
  """Index arrays of each client into the dataset it was built from.

  Attributes:
    spec: the `PartitionSpec` it was built from.
    indices: client id -> sorted int64 indices into the source arrays.
    classes: client id -> sorted tuple of classes the client holds.
  """

  spec: PartitionSpec
  indices: Mapping[str, np.ndarray]
  classes: Mapping[str, tuple[int, ...]]

  @property
  def client_ids(self) -> list[str]:
    return list(self.indices)

  @property
  def victim_id(self) -> str:
    return VICTIM_ID

  @property
  def adversary_id(self) -> str:
    return ADVERSARY_ID

  @property
  def honest_ids(self) -> list[str]:
    return [c for c in self.indices if c.startswith(HONEST_PREFIX)]

  def sizes(self) -> dict[str, int]:
    return {c: int(len(i)) for c, i in self.indices.items()}

  def fingerprint(self) -> str:
    """A short stable hash of the spec and the exact indices (cache keys)."""
    digest = hashlib.sha256(self.spec.to_json().encode())
    for client_id, idx in self.indices.items():
      digest.update(client_id.encode())
      digest.update(np.ascontiguousarray(idx, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]

  def client_arrays(
      self, client_id: str, x: np.ndarray, y: np.ndarray
  ) -> tuple[np.ndarray, np.ndarray]:
    """Returns (x, y) of one client, taken from the arrays it was built on."""
    if client_id not in self.indices:
      raise ValueError(
          f'Unknown `client_id` {client_id!r}; expected one of {self.client_ids}.'
      )
    idx = self.indices[client_id]
    return x[idx], y[idx]

  def client_dataset(self, client_id: str, x: np.ndarray, y: np.ndarray):
    """Returns one client's examples as a plain `tf.data.Dataset` of (x, y)."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    cx, cy = self.client_arrays(client_id, x, y)
    return tf.data.Dataset.from_tensor_slices((cx, cy))


def _check_class(value, *, argname: str, num_classes: int) -> int:
  value = checks.check_int(value, argname, 0)
  if value >= num_classes:
    raise ValueError(f'`{argname}` must be in [0, {num_classes}), got {value}.')
  return int(value)


def _validate_spec(spec: PartitionSpec, num_classes: int) -> None:
  """Raises ValueError naming the argument for any inconsistent role."""
  checks.check_int(spec.num_clients, 'num_clients', 0)
  if spec.num_clients < 3:
    raise ValueError(
        '`num_clients` must be >= 3 (one victim, one adversary and at least one '
        f'honest client), got {spec.num_clients}.'
    )
  target = _check_class(spec.target_class, argname='target_class', num_classes=num_classes)
  adversary = tuple(spec.adversary_classes)
  if len(adversary) != 2 or len(set(adversary)) != 2:
    raise ValueError(
        '`adversary_classes` must be two distinct classes [b, c], got '
        f'{spec.adversary_classes!r}.'
    )
  for c in adversary:
    _check_class(c, argname='adversary_classes', num_classes=num_classes)
  if target in adversary:
    raise ValueError(
        f'`adversary_classes` {adversary} must not include the target class '
        f'{target}: the victim holds it exclusively.'
    )
  if spec.victim_shared_class is not None:
    shared = _check_class(
        spec.victim_shared_class, argname='victim_shared_class', num_classes=num_classes
    )
    if shared == target:
      raise ValueError('`victim_shared_class` must differ from `target_class`.')
    if not 0.0 < spec.victim_shared_fraction < 1.0:
      raise ValueError(
          '`victim_shared_fraction` must be in (0, 1), got '
          f'{spec.victim_shared_fraction!r}.'
      )
  if spec.honest_distribution not in _DISTRIBUTIONS:
    raise ValueError(
        f'`honest_distribution` must be one of {_DISTRIBUTIONS}, got '
        f'{spec.honest_distribution!r}.'
    )
  if spec.honest_distribution == 'dirichlet' and not (
      np.isfinite(spec.dirichlet_alpha) and spec.dirichlet_alpha > 0
  ):
    raise ValueError(
        f'`dirichlet_alpha` must be a positive finite number, got {spec.dirichlet_alpha!r}.'
    )
  if spec.max_examples_per_client is not None and (
      isinstance(spec.max_examples_per_client, bool)
      or not isinstance(spec.max_examples_per_client, int)
      or spec.max_examples_per_client < 1
  ):
    raise ValueError(
        '`max_examples_per_client` must be a positive integer or None, got '
        f'{spec.max_examples_per_client!r}.'
    )


def _split_evenly(idx: np.ndarray, n: int) -> list[np.ndarray]:
  return list(np.array_split(idx, n))


def _split_dirichlet(
    idx: np.ndarray, n: int, alpha: float, rng: np.random.Generator
) -> list[np.ndarray]:
  shares = rng.dirichlet(np.full(n, alpha))
  cuts = (np.cumsum(shares)[:-1] * len(idx)).astype(np.int64)
  return list(np.split(idx, cuts))


def partition_clients(
    labels: np.ndarray,
    spec: Optional[PartitionSpec] = None,
    *,
    num_classes: Optional[int] = None,
    **overrides,
) -> ClientPartition:
  """Splits a labelled dataset into victim, adversary and honest clients.

  Invariants (tested): the target class appears only in the victim's data;
  every example goes to at most one client and, without
  `max_examples_per_client`, to exactly one; the same spec and labels give the
  same partition.

  Args:
    labels: int array (N,) of class ids.
    spec: a `PartitionSpec`; default `PartitionSpec()`.
    num_classes: number of classes; default `labels.max() + 1`.
    **overrides: fields of `PartitionSpec` to replace, e.g. `num_clients=5`.

  Returns:
    A `ClientPartition` with ids 'victim', 'adversary', 'honest_0', ...

  Raises:
    ValueError: inconsistent roles (adversary owns the target, K < 3, ...), a
      role class absent from `labels`, no class left for honest clients, or a
      client that would be empty.
  """
  spec = dataclasses.replace(spec or PartitionSpec(), **overrides)
  labels = np.asarray(labels)
  if labels.ndim != 1 or labels.size == 0:
    raise ValueError(f'`labels` must be a non-empty 1-D array, got shape {labels.shape}.')
  if not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(f'`labels` must hold integer class ids, got dtype {labels.dtype}.')
  num_classes = int(num_classes if num_classes is not None else labels.max() + 1)
  if labels.min() < 0 or labels.max() >= num_classes:
    raise ValueError(
        f'`labels` must be in [0, {num_classes}), found [{labels.min()}, {labels.max()}].'
    )
  _validate_spec(spec, num_classes)

  present = set(np.unique(labels).tolist())
  role_classes = {spec.target_class: 'target_class'}
  role_classes.update({c: 'adversary_classes' for c in spec.adversary_classes})
  if spec.victim_shared_class is not None:
    role_classes[spec.victim_shared_class] = 'victim_shared_class'
  for c, argname in role_classes.items():
    if c not in present:
      raise ValueError(
          f'`{argname}` class {c} does not occur in the data (classes present: '
          f'{sorted(present)}).'
      )
  honest_classes = sorted(present - {spec.target_class} - set(spec.adversary_classes))
  if not honest_classes:
    raise ValueError(
        'No class is left for the honest clients after the victim and adversary '
        f'classes; classes present: {sorted(present)}.'
    )
  num_honest = spec.num_clients - 2

  rng = np.random.default_rng(spec.seed)
  by_class = {c: rng.permutation(np.flatnonzero(labels == c)) for c in sorted(present)}
  victim = [by_class[spec.target_class]]
  adversary = []
  honest = [[] for _ in range(num_honest)]

  if spec.victim_shared_class is not None:
    shared = by_class[spec.victim_shared_class]
    n_victim = int(round(spec.victim_shared_fraction * len(shared)))
    victim.append(shared[:n_victim])
    by_class[spec.victim_shared_class] = shared[n_victim:]
  for c in spec.adversary_classes:
    adversary.append(by_class[c])

  if spec.honest_distribution == 'iid':
    pooled = rng.permutation(np.concatenate([by_class[c] for c in honest_classes]))
    for i, part in enumerate(_split_evenly(pooled, num_honest)):
      honest[i].append(part)
  else:
    for _ in range(_MAX_DIRICHLET_DRAWS):
      draw = [[] for _ in range(num_honest)]
      for c in honest_classes:
        for i, part in enumerate(
            _split_dirichlet(by_class[c], num_honest, spec.dirichlet_alpha, rng)
        ):
          draw[i].append(part)
      if all(sum(len(p) for p in parts) for parts in draw):
        honest = draw
        break
    else:
      raise ValueError(
          f'Could not give every honest client an example with dirichlet_alpha='
          f'{spec.dirichlet_alpha} after {_MAX_DIRICHLET_DRAWS} draws; use fewer '
          'clients or a larger alpha.'
      )

  groups = collections.OrderedDict()
  groups[VICTIM_ID] = victim
  groups[ADVERSARY_ID] = adversary
  for i, parts in enumerate(honest):
    groups[f'{HONEST_PREFIX}{i}'] = parts

  indices = collections.OrderedDict()
  classes = {}
  for client_id, parts in groups.items():
    idx = np.concatenate(parts) if parts else np.zeros([0], np.int64)
    if spec.max_examples_per_client is not None and len(idx) > spec.max_examples_per_client:
      idx = rng.choice(idx, spec.max_examples_per_client, replace=False)
    if len(idx) == 0:
      raise ValueError(
          f'Client {client_id!r} would hold no example; use fewer `num_clients` '
          f'(got {spec.num_clients}) or more data ({labels.size} examples).'
      )
    idx = np.sort(idx).astype(np.int64)
    indices[client_id] = idx
    classes[client_id] = tuple(sorted(np.unique(labels[idx]).tolist()))
  return ClientPartition(spec=spec, indices=indices, classes=classes)


def describe(partition: ClientPartition, labels: np.ndarray, *, num_classes: int = 10) -> str:
  """A per-client table of example counts by class, for logs and READMEs."""
  header = 'client'.ljust(12) + ''.join(f'{c:>6d}' for c in range(num_classes)) + '  total'
  rows = [header]
  for client_id, idx in partition.indices.items():
    counts = np.bincount(labels[idx], minlength=num_classes)
    rows.append(
        client_id.ljust(12) + ''.join(f'{n:>6d}' for n in counts) + f'{len(idx):>7d}'
    )
  return '\n'.join(rows)
