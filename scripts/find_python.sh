#!/usr/bin/env bash
# Prints the path of the first interpreter found among the Python versions
# given (e.g. `find_python.sh 3.12 3.11`): on PATH as pythonX.Y, or installed
# under pyenv. Exits 1 if none is.
set -uo pipefail
for version in "$@"; do
  for candidate in "python${version}" \
      "$(pyenv root 2>/dev/null)/versions/$(pyenv versions --bare 2>/dev/null \
          | grep -E "^${version//./\\.}(\.[0-9]+)?$" | tail -1)/bin/python${version}"; do
    if path="$(command -v "$candidate" 2>/dev/null)" && "$path" -c '' 2>/dev/null; then
      echo "$path"
      exit 0
    fi
  done
done
echo "none of Python $* found" >&2
exit 1
