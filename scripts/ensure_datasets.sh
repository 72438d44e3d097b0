#!/usr/bin/env bash
# Makes sure the offline default dataset (real Fashion-MNIST, Debian package
# dataset-fashion-mnist) is present. Idempotent; never fails the build: without
# it the loaders still work from a user directory or the Keras cache, and say
# where they looked.
set -u
dir=/usr/share/datasets/fashion-mnist
if [ -f "$dir/train-images-idx3-ubyte.gz" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian package dataset-fashion-mnist (real Fashion-MNIST, offline)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; } \
    || echo "warning: could not install dataset-fashion-mnist; tests that need real data will fail." >&2
else
  echo "note: $dir missing and not root; run 'sudo apt-get install dataset-fashion-mnist'" \
       "or put the IDX files in ~/.keras/datasets/fashion-mnist/." >&2
fi
exit 0
