#!/usr/bin/env bash
# Makes sure the offline Fashion-MNIST files are on this machine.
#   scripts/ensure_fashion_mnist.sh [--required]
# Looks in $FASHION_MNIST_DIR (default /usr/share/datasets/fashion-mnist); if the four IDX
# files are missing and apt-get can be used, installs Debian's dataset-fashion-mnist package.
# Exit status 1 only with --required when the files are still missing.
set -u
dir="${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"

have_all() {
  for f in $files; do [ -f "$dir/$f" ] || return 1; done
}

if have_all; then
  echo "Fashion-MNIST: found in $dir"
  exit 0
fi

if [ "$dir" = /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  echo "Fashion-MNIST: installing Debian's dataset-fashion-mnist package"
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1
  fi
  have_all && { echo "Fashion-MNIST: installed in $dir"; exit 0; }
fi

cat >&2 <<MSG
Fashion-MNIST: the four IDX files ($files) are not in $dir.
Install them with 'apt-get install dataset-fashion-mnist' (Debian and Ubuntu), or copy them
from a machine that has them into a directory and pass --set data.dir=DIR to the commands
(and FASHION_MNIST_DIR=DIR to make). Tests that need the real data are skipped without them.
MSG
[ "${1:-}" = "--required" ] && exit 1
exit 0
