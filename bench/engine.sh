#!/usr/bin/env bash
# Tensor engine vs PyTorch CPU on the CALS workloads, measured in the same run, alternating
# Swift and PyTorch (A/B) so machine load hits both alike. Run from the repo root after
# `make build` and `make python`.
#   bench/engine.sh [--threads 2] [--rounds 3] [--steps 10]
# Prints a table of median ms per step (the best round of each side), the ratio Swift/PyTorch,
# peak RSS, and the A2L step's achieved GFLOP/s against raw cblas_sgemm on this machine.
set -euo pipefail
THREADS=2 ROUNDS=3 STEPS=10
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    *) echo "usage: $0 [--threads N] [--rounds N] [--steps N]" >&2; exit 2 ;;
  esac
done
CALS=${CALS:-.build/release/cals}
PY=${PY:-.venv/bin/python}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

run_case() {  # name, then the arguments shared by both sides
  local name=$1; shift
  for r in $(seq "$ROUNDS"); do
    "$CALS" bench "$name" "$@" --threads "$THREADS" --steps "$STEPS" --json >> "$OUT/$name.swift"
    "$PY" bench/a2l_step.py "$name" "$@" --threads "$THREADS" --steps "$STEPS" >> "$OUT/$name.torch"
  done
}
run_case a2l-step --batch 16 --frames 50
run_case conv-block --batch 16
run_case gemm --size 1024

"$PY" - "$OUT" "$THREADS" <<'PY'
import json, sys, os
out, threads = sys.argv[1], sys.argv[2]
def best(name, side):
    rows = [json.loads(l) for l in open(os.path.join(out, f"{name}.{side}")) if l.strip()]
    return min(rows, key=lambda r: r["ms_per_step"])
targets = {"a2l-step": "<= 0.8", "conv-block": "<= 1.2", "gemm": "(reference)"}
print(f"engine vs PyTorch {__import__('torch').__version__}, {threads} threads (median ms per step, best of rounds)")
print(f"{'case':<12} {'swift ms':>10} {'torch ms':>10} {'ratio':>7} {'target':>12} {'swift MB':>9} {'torch MB':>9}")
for name in ["a2l-step", "conv-block", "gemm"]:
    s, t = best(name, "swift"), best(name, "torch")
    print(f"{name:<12} {s['ms_per_step']:>10.1f} {t['ms_per_step']:>10.1f} {s['ms_per_step'] / t['ms_per_step']:>7.2f} "
          f"{targets[name]:>12} {s['peak_rss_mb']:>9.0f} {t['peak_rss_mb']:>9.0f}")
a2l, gemm = best("a2l-step", "swift"), best("gemm", "swift")
print(f"A2L step: {a2l['gflop_per_step']:.1f} GFLOP of matmul, {a2l['gflops']:.1f} GFLOP/s achieved; "
      f"raw cblas_sgemm 1024^3: {gemm['gflops']:.1f} GFLOP/s ({100 * a2l['gflops'] / gemm['gflops']:.0f}% of peak)")
PY
