"""Invariants of the victim / adversary / honest client partition."""

import numpy as np
import pytest

from antigan_tf.data import partition as partition_lib


def _labels(n_per_class=50, num_classes=10, seed=0):
  rng = np.random.default_rng(seed)
  return rng.permutation(np.repeat(np.arange(num_classes), n_per_class)).astype(np.int32)


@pytest.mark.parametrize('distribution', ['iid', 'dirichlet'])
def test_target_class_only_in_victim_and_sizes_add_up(distribution):
  labels = _labels()
  part = partition_lib.partition_clients(
      labels, num_clients=6, honest_distribution=distribution, dirichlet_alpha=1.0
  )
  assert part.client_ids[:2] == ['victim', 'adversary']
  assert len(part.honest_ids) == 4
  for client_id, idx in part.indices.items():
    has_target = np.any(labels[idx] == 6)
    assert has_target == (client_id == 'victim'), client_id
  # The victim holds every example of the target class.
  assert np.sum(labels[part.indices['victim']] == 6) == np.sum(labels == 6)
  assert set(labels[part.indices['adversary']].tolist()) == {0, 1}
  every = np.concatenate(list(part.indices.values()))
  assert len(every) == len(labels)  # Each example exactly once...
  assert len(np.unique(every)) == len(labels)  # ...and none twice.
  assert sum(part.sizes().values()) == len(labels)


def test_honest_clients_never_get_role_classes():
  labels = _labels()
  part = partition_lib.partition_clients(labels, num_clients=5, adversary_classes=(3, 4))
  for client_id in part.honest_ids:
    classes = set(labels[part.indices[client_id]].tolist())
    assert not classes & {6, 3, 4}, (client_id, classes)


def test_iid_honest_shares_are_balanced():
  labels = _labels(n_per_class=100)
  part = partition_lib.partition_clients(labels, num_clients=7)
  sizes = [len(part.indices[c]) for c in part.honest_ids]
  assert max(sizes) - min(sizes) <= 1


def test_dirichlet_small_alpha_is_more_skewed_than_iid():
  labels = _labels(n_per_class=200)
  iid = partition_lib.partition_clients(labels, num_clients=6)
  skewed = partition_lib.partition_clients(
      labels, num_clients=6, honest_distribution='dirichlet', dirichlet_alpha=0.1
  )

  def spread(part):
    counts = np.array(
        [np.bincount(labels[part.indices[c]], minlength=10) for c in part.honest_ids]
    )
    return counts.std(axis=0).sum()

  assert spread(skewed) > 2 * spread(iid)


def test_victim_shared_class_is_split():
  labels = _labels(n_per_class=40)
  part = partition_lib.partition_clients(
      labels, num_clients=4, victim_shared_class=1, victim_shared_fraction=0.25
  )
  victim = labels[part.indices['victim']]
  adversary = labels[part.indices['adversary']]
  assert np.sum(victim == 1) == 10
  assert np.sum(adversary == 1) == 30
  assert part.classes['victim'] == (1, 6)


def test_same_seed_same_partition_other_seed_differs():
  labels = _labels()
  a = partition_lib.partition_clients(labels, num_clients=5, seed=3)
  b = partition_lib.partition_clients(labels, num_clients=5, seed=3)
  c = partition_lib.partition_clients(labels, num_clients=5, seed=4)
  for cid in a.client_ids:
    np.testing.assert_array_equal(a.indices[cid], b.indices[cid])
  assert a.fingerprint() == b.fingerprint()
  assert a.fingerprint() != c.fingerprint()


def test_max_examples_per_client_caps_and_keeps_roles():
  labels = _labels()
  part = partition_lib.partition_clients(labels, num_clients=5, max_examples_per_client=7)
  assert all(n <= 7 for n in part.sizes().values())
  assert set(labels[part.indices['victim']].tolist()) == {6}


def test_client_arrays_and_tf_dataset_match_indices():
  labels = _labels(n_per_class=5)
  x = np.arange(len(labels), dtype=np.float32).reshape(-1, 1, 1, 1) * np.ones((1, 8, 8, 1), np.float32)
  part = partition_lib.partition_clients(labels, num_clients=3)
  cx, cy = part.client_arrays('victim', x, labels)
  np.testing.assert_array_equal(cx[:, 0, 0, 0], part.indices['victim'])
  assert set(cy.tolist()) == {6}
  ds = part.client_dataset('adversary', x, labels)
  got = np.array([int(y) for _, y in ds])
  np.testing.assert_array_equal(got, labels[part.indices['adversary']])
  with pytest.raises(ValueError, match='client_id'):
    part.client_arrays('nobody', x, labels)


def test_describe_lists_every_client():
  labels = _labels(n_per_class=5)
  part = partition_lib.partition_clients(labels, num_clients=3)
  table = partition_lib.describe(part, labels)
  assert table.count('\n') == 3 and 'victim' in table and 'honest_0' in table


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'num_clients': 2}, 'num_clients'),
        ({'adversary_classes': (6, 1)}, 'must not include the target'),
        ({'adversary_classes': (1, 1)}, 'two distinct'),
        ({'adversary_classes': (1,)}, 'two distinct'),
        ({'target_class': 10}, 'target_class'),
        ({'victim_shared_class': 6}, 'victim_shared_class'),
        ({'victim_shared_class': 2, 'victim_shared_fraction': 1.0}, 'victim_shared_fraction'),
        ({'honest_distribution': 'zipf'}, 'honest_distribution'),
        ({'honest_distribution': 'dirichlet', 'dirichlet_alpha': 0.0}, 'dirichlet_alpha'),
        ({'max_examples_per_client': 0}, 'max_examples_per_client'),
        ({'num_clients': 400}, 'no example'),
    ],
)
def test_bad_specs_name_the_argument(kwargs, message):
  with pytest.raises(ValueError, match=message):
    partition_lib.partition_clients(_labels(n_per_class=20), **kwargs)


def test_target_class_absent_from_data():
  labels = _labels()
  labels = labels[labels != 6]
  with pytest.raises(ValueError, match='target_class.*does not occur'):
    partition_lib.partition_clients(labels, num_classes=10)


def test_bad_labels():
  with pytest.raises(ValueError, match='labels'):
    partition_lib.partition_clients(np.array([], np.int32))
  with pytest.raises(ValueError, match='integer'):
    partition_lib.partition_clients(np.array([0.5, 1.0]))
  with pytest.raises(ValueError, match=r'\[0, 3\)'):
    partition_lib.partition_clients(np.array([0, 1, 5]), num_classes=3)


def test_no_class_left_for_honest_clients():
  labels = np.array([0, 1, 6, 0, 1, 6], np.int32)
  with pytest.raises(ValueError, match='honest'):
    partition_lib.partition_clients(labels, num_classes=10, num_clients=3)
