#!/usr/bin/env bash
# Repeated quick-tier runs for the checker's noise study (issue: false-alarm rate and the
# smallest slowdown reliably flagged). Unchanged runs first, then runs slowed by a CPU hog of
# known duty cycle. Afterwards:
#   python -m tools.bench.judge.noise_study "$OUT/unchanged" --slowed 0.25=$OUT/hog25 --slowed 0.5=$OUT/hog50
# (the --slowed value is the hog's duty cycle; the study reports the measured slowdown too).
set -euo pipefail
OUT="${1:-runs/noise}"
UNCHANGED="${UNCHANGED:-5}"
SLOWED="${SLOWED:-3}"
DUTIES="${DUTIES:-0.25 0.5}"
mkdir -p "$OUT"
one_run() {  # $1 = folder for the results document
  local dir="$1" tmp
  tmp="$(mktemp -d)"
  virnucpro benchmark --quick --output-dir "$tmp" >"$tmp/log.txt" 2>&1 || true
  mkdir -p "$dir"
  cp "$tmp"/runs/*/results.json "$dir/$(date +%s%N).json"
  rm -rf "$tmp"
}
for i in $(seq "$UNCHANGED"); do one_run "$OUT/unchanged"; echo "unchanged $i done"; done
for duty in $DUTIES; do
  python scripts/cpu_hog.py --duty "$duty" & hog=$!
  for i in $(seq "$SLOWED"); do one_run "$OUT/hog${duty#0.}"; echo "hog $duty run $i done"; done
  kill "$hog"; wait "$hog" 2>/dev/null || true
done
