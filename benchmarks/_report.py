"""Shared by the benchmarks: machine facts and the JSON report file."""

import json
import os
import platform

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')


def machine_info(**versions) -> dict:
  """CPU count, Python and platform, plus the given library versions."""
  return {'cpu_count': os.cpu_count(), 'python': platform.python_version(),
          'platform': platform.platform(), **versions}


def default_output(name: str) -> str:
  """benchmarks/results/<name>.json (git-ignored)."""
  return os.path.join(RESULTS_DIR, f'{name}.json')


def write_report(report: dict, path: str) -> None:
  """Writes the report as indented JSON and says where."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'w') as f:
    json.dump(report, f, indent=1)
  print(f'\nwrote {path}')
