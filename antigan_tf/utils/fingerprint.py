"""Content fingerprints, used to decide whether a cached output still fits."""

import hashlib

import numpy as np


def array_fingerprint(*arrays, note: str = '') -> str:
  """A short hex digest of the arrays' dtypes, shapes and bytes, plus `note`."""
  digest = hashlib.sha256()
  for array in arrays:
    array = np.ascontiguousarray(array)
    digest.update(f'{array.dtype.str}{array.shape}'.encode())
    digest.update(array.tobytes())
  digest.update(note.encode())
  return digest.hexdigest()[:16]
