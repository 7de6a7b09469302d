#!/usr/bin/env bash
# What each install brings: distributions and MB in a fresh venv, torch first, then
# `pip install .` and each extra on top (docs/development.md, "Installs and extras").
#
# Usage: scripts/install_sizes.sh [PYTHON]  (default python3; measures the committed HEAD)
# Counts leave out the venv's own pip and setuptools; MB is the venv's site-packages less
# what an empty venv holds. Installs from the index pip is configured for; takes minutes.
set -euo pipefail

PYTHON="${1:-python3}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TORCH="${VIRNUCPRO_TORCH:-torch==2.13.0}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git archive --format=tar HEAD | tar -x -C "$work" --one-top-level=src
"$PYTHON" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check)
site="$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
empty_mb="$(du -sm "$site" | cut -f1)"
last_n=0
last_mb=0

step() {
  local n mb
  n="$("$work/venv/bin/python" -m pip list --format=freeze 2>/dev/null | grep -vic '^\(pip\|setuptools\)==')"
  mb=$(( $(du -sm "$site" | cut -f1) - empty_mb ))
  printf '%-34s %3d distributions (+%d), %5d MB (+%d)\n' "$1" "$n" $((n - last_n)) "$mb" $((mb - last_mb))
  last_n="$n"
  last_mb="$mb"
}

"${pip[@]}" "$TORCH"
step "pip install $TORCH"
for target in "." ".[bench]" ".[dashboard]" ".[dev]"; do
  "${pip[@]}" "$work/src${target#.}"
  step "pip install $target"
done
