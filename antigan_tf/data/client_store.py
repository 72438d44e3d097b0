"""On-disk client datasets that TFF computations can open by client id.

TFF ships the *inputs* of a computation to its C++ worker over gRPC. Passing
full client datasets every round costs time and memory, so each client's
examples are written once as fixed-length binary records (label int32 then the
image float32, little-endian), and `ClientStore.dataset_fn` maps a client-id
string tensor to a `tf.data.Dataset` reading that file. The function holds
only a directory string, so TFF can serialize it into a dataset computation
(`tff.simulation.datasets.ClientData.from_clients_and_tf_fn`) and the worker
reads the data itself. The worker must see the same filesystem: true for the
local worker; use a shared filesystem for remote ones.

A store is written into a temporary sibling directory and renamed into place,
so an interrupted write never leaves a half-written store behind.
"""

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from typing import Optional

import numpy as np

FORMAT = 'antigan_tf.client_store/1'
_MANIFEST = 'manifest.json'
_SAFE_ID = re.compile(r'^[A-Za-z0-9_.-]+$')


def _record_dtype(image_shape) -> np.dtype:
  return np.dtype([('label', '<i4'), ('image', '<f4', tuple(image_shape))])


def _check_client_arrays(client_id: str, x: np.ndarray, y: np.ndarray, image_shape):
  if not _SAFE_ID.match(client_id):
    raise ValueError(
        f'Client id {client_id!r} must match {_SAFE_ID.pattern} (it names a file).'
    )
  if x.shape[1:] != tuple(image_shape):
    raise ValueError(
        f'Client {client_id!r}: images of shape {x.shape[1:]} do not match the '
        f'store image shape {tuple(image_shape)}.'
    )
  if len(x) != len(y):
    raise ValueError(f'Client {client_id!r}: {len(x)} images but {len(y)} labels.')


class ClientStore:
  """A directory of per-client record files plus a JSON manifest."""

  def __init__(self, directory: str):
    """Opens an existing store.

    Args:
      directory: a directory written by `write_client_store`.

    Raises:
      FileNotFoundError: if there is no manifest in `directory`.
      ValueError: if the manifest is of another format or a file is missing or
        has the wrong size.
    """
    self.directory = os.path.abspath(directory)
    path = os.path.join(self.directory, _MANIFEST)
    if not os.path.isfile(path):
      raise FileNotFoundError(f'No client store at {directory!r} (missing {_MANIFEST}).')
    with open(path) as f:
      manifest = json.load(f)
    if manifest.get('format') != FORMAT:
      raise ValueError(
          f'{path} is format {manifest.get("format")!r}, expected {FORMAT!r}.'
      )
    self.image_shape = tuple(manifest['image_shape'])
    self.sizes: Mapping[str, int] = dict(manifest['clients'])
    self.metadata: Mapping[str, object] = dict(manifest.get('metadata', {}))
    self._record = _record_dtype(self.image_shape)
    for client_id, n in self.sizes.items():
      file = self._file(client_id)
      if not os.path.isfile(file) or os.path.getsize(file) != n * self._record.itemsize:
        raise ValueError(
            f'Client store {directory!r} is damaged: {file} is missing or not '
            f'{n} records long. Delete the directory to rebuild it.'
        )

  @property
  def client_ids(self) -> list[str]:
    return list(self.sizes)

  @property
  def record_bytes(self) -> int:
    return self._record.itemsize

  def _file(self, client_id: str) -> str:
    return os.path.join(self.directory, f'{client_id}.bin')

  def client_arrays(self, client_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Reads one client's (x, y) back as numpy arrays."""
    if client_id not in self.sizes:
      raise ValueError(f'Unknown `client_id` {client_id!r}; expected one of {self.client_ids}.')
    records = np.fromfile(self._file(client_id), dtype=self._record)
    return records['image'].astype(np.float32), records['label'].astype(np.int32)

  def dataset_fn(self) -> Callable[..., object]:
    """Returns `client_id (tf.string) -> tf.data.Dataset` of (image, label).

    Built only from TF ops on a captured directory string, so it can be traced
    inside a TFF computation and run on the worker.
    """
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    directory = self.directory
    image_shape = self.image_shape
    record_bytes = self.record_bytes

    def decode(record):
      raw = tf.io.decode_raw(record, tf.uint8)
      label = tf.bitcast(raw[:4], tf.int32)
      label = tf.reshape(label, [])
      image = tf.bitcast(tf.reshape(raw[4:], [-1, 4]), tf.float32)
      return tf.reshape(image, image_shape), label

    def dataset_fn(client_id):
      path = tf.strings.join([directory, '/', client_id, '.bin'])
      records = tf.data.FixedLengthRecordDataset(path, record_bytes)
      return records.map(decode)

    return dataset_fn

  def write_transient_client(self, client_id: str, x, y) -> str:
    """Writes a client file that is not part of the manifest; returns its id.

    For data that changes between rounds (the adversary's local set with the
    images it injects): `dataset_fn` opens it by id like any client, while
    reopening the store still sees only the manifest's clients. The file is
    written to a temporary name and renamed, and replaced if it exists.

    Raises:
      ValueError: `client_id` clashes with a manifest client, is unsafe, or the
        arrays do not fit the store.
    """
    if client_id in self.sizes:
      raise ValueError(f'{client_id!r} is a manifest client of this store; pick another id.')
    x = np.asarray(x)
    y = np.asarray(y)
    _check_client_arrays(client_id, x, y, self.image_shape)
    records = np.empty(len(x), dtype=self._record)
    records['label'] = y
    records['image'] = x
    staging = self._file(client_id) + '.tmp'
    records.tofile(staging)
    os.replace(staging, self._file(client_id))
    return client_id

  def remove_transient_client(self, client_id: str) -> None:
    """Deletes a file written by `write_transient_client` (if present)."""
    if client_id in self.sizes:
      raise ValueError(f'{client_id!r} is a manifest client; it is not transient.')
    try:
      os.remove(self._file(client_id))
    except FileNotFoundError:
      pass

  def client_dataset(self, client_id: str):
    """One client's data as a plain `tf.data.Dataset` of (image, label)."""
    if client_id not in self.sizes:
      raise ValueError(f'Unknown `client_id` {client_id!r}; expected one of {self.client_ids}.')
    return self.dataset_fn()(client_id)


def write_client_store(
    directory: str,
    clients: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    metadata: Optional[Mapping[str, object]] = None,
    overwrite: bool = False,
) -> ClientStore:
  """Writes client datasets atomically and returns the opened store.

  Args:
    directory: where the store goes; must not exist unless `overwrite`.
    clients: client id -> (x float32 (N, H, W, C), y int (N,)); all clients
      share one image shape.
    metadata: JSON-serialisable facts kept in the manifest (e.g. the partition
      fingerprint, so callers can reuse a matching store).
    overwrite: replace an existing store at `directory`.

  Returns:
    The `ClientStore` at `directory`.

  Raises:
    ValueError: empty `clients`, mismatched shapes, no image in any client,
      or an unsafe client id. One client may be empty (a victim that shares
      nothing); it trains nothing and has weight 0.
    FileExistsError: `directory` exists and `overwrite` is False.
  """
  if not clients:
    raise ValueError('`clients` must name at least one client.')
  if not any(len(x) for x, _ in clients.values()):
    raise ValueError('`clients` hold no image at all.')
  directory = os.path.abspath(directory)
  if os.path.exists(directory) and not overwrite:
    raise FileExistsError(f'{directory} exists; pass overwrite=True to replace it.')
  first_x = np.asarray(next(iter(clients.values()))[0])
  image_shape = first_x.shape[1:]
  record = _record_dtype(image_shape)
  parent = os.path.dirname(directory)
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(prefix='.client_store-', dir=parent)
  try:
    sizes = {}
    for client_id, (x, y) in clients.items():
      x = np.asarray(x)
      y = np.asarray(y)
      _check_client_arrays(client_id, x, y, image_shape)
      records = np.empty(len(x), dtype=record)
      records['label'] = y
      records['image'] = x
      records.tofile(os.path.join(staging, f'{client_id}.bin'))
      sizes[client_id] = int(len(x))
    manifest = {
        'format': FORMAT,
        'image_shape': list(image_shape),
        'clients': sizes,
        'metadata': dict(metadata or {}),
    }
    with open(os.path.join(staging, _MANIFEST), 'w') as f:
      json.dump(manifest, f, indent=1)  # Keeps client order.
    if os.path.exists(directory):
      shutil.rmtree(directory)
    os.replace(staging, directory)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return ClientStore(directory)
