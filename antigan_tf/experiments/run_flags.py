"""Each run of a sweep checked as `bin/run_tff` will check it, before any runs.

A sweep hands every run `--flagfile=<base> <extra flags> <its grid values>`.
`check_runs` parses exactly that with run_tff's own flag definitions (derived
from `ExperimentConfig`, on a private `absl.flags.FlagValues`, so that the
flagfile format and the flag types are absl's) and builds the run's
`ExperimentConfig`: a bad value (`--grid=rounds=abc`, a mix ratio out of
range) is refused at the start of the sweep, and by `--dry_run`, naming the
run and the flag, instead of failing every run one by one.
"""

from collections.abc import Mapping, Sequence

from absl import flags

from antigan_tf.federated import config as experiment_config
from antigan_tf.layout import run_name
from antigan_tf.utils import settings

# run_tff flags the sweep sets itself: neither a grid nor --extra_flag may.
RESERVED = frozenset({'output_dir', 'flagfile', 'overwrite', 'progress'})
# Any output directory: run_tff requires one; the check writes nothing.
_PLACEHOLDER_OUTPUT_DIR = '--output_dir=unused'


def extra_flag_name(flag: str) -> str:
  """The flag an `--extra_flag` sets: `--name=value` -> name, `--noname` -> name.

  Raises:
    ValueError: not of the form `--name[=value]`.
  """
  if not flag.startswith('--') or len(flag) < 3:
    raise ValueError(f'--extra_flag {flag!r} must be --name=value (or --name, --noname).')
  name = flag[2:].split('=', 1)[0]
  names = settings.flag_names(experiment_config.ExperimentConfig)
  if name not in names and name.startswith('no') and name[2:] in names:
    name = name[2:]
  return name


def check_extra_flags(extra_flags: Sequence[str]) -> None:
  """Refuses `--extra_flag`s that are not run_tff flags or that the sweep sets.

  Raises:
    ValueError: naming the flag.
  """
  names = settings.flag_names(experiment_config.ExperimentConfig)
  for flag in extra_flags:
    name = extra_flag_name(flag)
    if name in RESERVED:
      raise ValueError(f'--extra_flag {flag!r}: --{name} is set by the sweep itself.')
    if name not in names:
      raise ValueError(f'--extra_flag {flag!r}: --{name} is not a flag of run_tff.')


def check_runs(base_flagfile: str, configs: Sequence[Mapping[str, str]],
               extra_flags: Sequence[str]) -> None:
  """Parses and builds each run's configuration as run_tff does.

  Args:
    base_flagfile: every run's `--flagfile`.
    configs: each run's grid values (flag name -> value).
    extra_flags: the flags every run gets after the flagfile.

  Raises:
    ValueError: `<run name>: <run_tff's one-line error>` for the first bad run.
  """
  specs = settings.flag_specs(experiment_config.ExperimentConfig)
  values = flags.FlagValues()
  for spec in specs:
    getattr(flags, spec.absl_define)(flag_values=values, **spec.absl_arguments)
  for params in configs:
    argv = ['run_tff', f'--flagfile={base_flagfile}', *extra_flags,
            *(f'--{k}={v}' for k, v in params.items()), _PLACEHOLDER_OUTPUT_DIR]
    values.unparse_flags()
    try:
      values(argv)
      experiment_config.ExperimentConfig.from_flat({s.name: values[s.name].value for s in specs})
    except (flags.Error, ValueError) as e:
      raise ValueError(f'Run {run_name(params)}: {str(e).splitlines()[0]}') from None
