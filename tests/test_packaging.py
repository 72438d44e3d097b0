"""setup.py's two stacks: the base install (plain TF) and the `federated` extra
(requirements/federated.in), against what TFF 0.87 itself declares."""

import importlib.metadata
import os
import sys

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# TFF's pins that pip cannot satisfy (jaxlib 0.4.14 is gone; 0.4.13 instead),
# and google-vizier, which goes in with TFF (--no-deps: its grpcio-tools and
# sqlalchemy have no wheels here).
_NOT_FROM_TFF = {'jax', 'jaxlib', 'google-vizier'}


def _federated_in():
  with open(os.path.join(REPO_ROOT, 'requirements', 'federated.in')) as f:
    lines = [line.split('#')[0].strip() for line in f]
  return [Requirement(line) for line in lines if line]


def _no_deps():
  with open(os.path.join(REPO_ROOT, 'requirements', 'no-deps.txt')) as f:
    return [Requirement(line.strip()) for line in f if line.strip() and line[0] != '#']


def test_the_installed_package_declares_the_federated_extra_for_python_below_3_12():
  declared = [Requirement(r) for r in importlib.metadata.requires('antigan_tf')]
  extra = [r for r in declared if r.marker and 'extra == "federated"' in str(r.marker)]
  assert sorted(str(r.specifier) + r.name for r in extra) == sorted(
      str(r.specifier) + r.name for r in _federated_in())
  installs_here = {r.marker.evaluate({'extra': 'federated'}) for r in extra}
  # On Python 3.12 and later the extra installs nothing (no TFF there).
  assert installs_here == {sys.version_info < (3, 12)}
  base = {canonicalize_name(r.name) for r in declared if r.marker is None}
  assert 'tensorflow' in base and not base & {'tensorflow-federated', 'jax', 'jaxlib'}


@pytest.mark.tff
def test_the_extra_is_what_tff_requires_less_its_unsatisfiable_jax_pins():
  tff_requires = [Requirement(r) for r in importlib.metadata.requires('tensorflow-federated')
                  if 'extra ==' not in r]
  extra = {canonicalize_name(r.name): r for r in _federated_in()}
  for requirement in tff_requires:
    name = canonicalize_name(requirement.name)
    if name in _NOT_FROM_TFF:
      continue
    assert name in extra, f'TFF requires {requirement}, missing from federated.in'
  # jax and jaxlib are there, at the version that exists.
  assert str(extra['jax'].specifier) == str(extra['jaxlib'].specifier) == '==0.4.13'
  no_deps = {canonicalize_name(r.name): str(r.specifier) for r in _no_deps()}
  assert no_deps == {'tensorflow-federated': '==0.87.0', 'google-vizier': '==0.1.11'}


@pytest.mark.tff
def test_the_pinned_environment_satisfies_the_extra():
  for requirement in _federated_in():
    installed = importlib.metadata.version(requirement.name)
    assert requirement.specifier.contains(installed, prereleases=True), (
        f'{requirement.name} {installed} does not satisfy federated.in\'s {requirement}')
