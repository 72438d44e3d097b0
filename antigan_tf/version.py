"""Version of antigan_tf."""

__version__ = '0.1.0'
