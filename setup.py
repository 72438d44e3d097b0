"""antigan_tf: Anti-GAN defenses against GAN-based feature inference in FL.

Two stacks (docs/install.md):
- the plain-TF part (data, models, gan, defense, attack, metrics, report and
  plot helpers): `pip install .` on Python 3.9-3.13 with any TensorFlow from
  2.14 on, Keras 2 (tf-keras) or Keras 3;
- the federated part (`antigan_tf.federated`, bin/run_tff, sweeps): TensorFlow
  Federated 0.87 on Python 3.9-3.11 with TF 2.14. `install_requires` never
  names TFF, whose jax/jaxlib 0.4.14 pins can no longer be satisfied from
  PyPI. The `federated` extra carries TFF's other requirements
  (requirements/federated.in); TFF then goes in with --no-deps
  (requirements/no-deps.txt). `make install` does the same from the pinned
  requirements/lock.txt.
"""

import os

import setuptools

_HERE = os.path.dirname(os.path.abspath(__file__))


def _version():
  scope = {}
  with open(os.path.join(_HERE, 'antigan_tf', 'version.py')) as f:
    exec(f.read(), scope)  # pylint: disable=exec-used
  return scope['__version__']


def _federated_requirements():
  # requirements/federated.in, on the Pythons TFF 0.87 exists for: elsewhere
  # the extra installs nothing, and `import antigan_tf.federated` says why.
  with open(os.path.join(_HERE, 'requirements', 'federated.in')) as f:
    lines = [line.split('#')[0].strip() for line in f]
  return [f'{line}; python_version < "3.12"' for line in lines if line]


with open(os.path.join(_HERE, 'README.md'), encoding='utf-8') as f:
  _LONG_DESCRIPTION = f.read()

setuptools.setup(
    name='antigan_tf',
    version=_version(),
    description=(
        'Anti-GAN: defenses against GAN-based feature inference attacks in '
        'federated learning (TensorFlow / TensorFlow Federated).'
    ),
    long_description=_LONG_DESCRIPTION,
    long_description_content_type='text/markdown',
    license='Apache 2.0',
    packages=setuptools.find_packages(include=['antigan_tf', 'antigan_tf.*']),
    scripts=['bin/run_tff', 'bin/run_sweep', 'bin/train_defender', 'bin/tff_worker'],
    python_requires='>=3.9,<3.14',
    install_requires=[
        'absl-py>=1.0',
        'numpy>=1.25',
        'Pillow',
        'scipy>=1.9',
        'tensorflow>=2.14',
        'tqdm>=4.64',
    ],
    extras_require={
        # TFF 0.87's requirements, less its jax pins; TFF itself then goes in
        # with --no-deps (requirements/no-deps.txt).
        'federated': _federated_requirements(),
        # Optional sources / outputs; pinned versions live in requirements/lock.txt.
        'tfds': ['tensorflow-datasets==4.9.4'],
        'plots': ['matplotlib'],
    },
    classifiers=[
        'Programming Language :: Python :: 3.9',
        'Programming Language :: Python :: 3.10',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
        'Programming Language :: Python :: 3.13',
        'Operating System :: POSIX :: Linux',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
        'Topic :: Security',
    ],
)
