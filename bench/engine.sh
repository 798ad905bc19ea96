#!/usr/bin/env bash
# Tensor engine vs PyTorch CPU on the CALS workloads, measured in the same run, alternating
# Swift and PyTorch (A/B) so machine load hits both alike. Run from the repo root after
# `make build` and `make python`.
#   bench/engine.sh [--threads 2] [--rounds 3] [--steps 10]
# Prints a table of median ms per step (the best round of each side), the ratio Swift/PyTorch,
# the same ratio in CPU time, peak RSS, and the A2L step's achieved GFLOP/s against raw cblas_sgemm on this machine.
set -euo pipefail
source "$(dirname "$0")/ab.sh"
ab_options THREADS=2 ROUNDS=3 STEPS=10 -- "$@"

run_case() {  # name, then the arguments shared by both sides
  local name=$1; shift
  ab_rounds "$name" "$CALS" bench "$name" "$@" --threads "$THREADS" --steps "$STEPS" --json \
    -- "$PY" bench/a2l_step.py "$name" "$@" --threads "$THREADS" --steps "$STEPS"
}
run_case a2l-step --batch 16 --frames 50
run_case conv-block --batch 16
run_case gemm --size 1024

"$PY" - "$AB_OUT" "$THREADS" <<'PY'
import sys
sys.path.insert(0, "bench")
from harness import best_round
out, threads = sys.argv[1], sys.argv[2]
best = lambda name, side: best_round(out, name, side)
targets = {"a2l-step": "<= 0.8", "conv-block": "<= 1.2", "gemm": "(reference)"}
print(f"engine vs PyTorch {__import__('torch').__version__}, {threads} threads (median ms per step, best of rounds)")
print(f"{'case':<12} {'swift ms':>10} {'torch ms':>10} {'ratio':>7} {'target':>12} {'cpu ratio':>10} {'swift MB':>9} {'torch MB':>9}")
for name in ["a2l-step", "conv-block", "gemm"]:
    s, t = best(name, "swift"), best(name, "torch")
    print(f"{name:<12} {s['ms_per_step']:>10.1f} {t['ms_per_step']:>10.1f} {s['ms_per_step'] / t['ms_per_step']:>7.2f} "
          f"{targets[name]:>12} {s['cpu_ms_per_step'] / t['cpu_ms_per_step']:>10.2f} {s['peak_rss_mb']:>9.0f} {t['peak_rss_mb']:>9.0f}")
a2l, gemm = best("a2l-step", "swift"), best("gemm", "swift")
print("cpu ratio: CPU seconds (all threads) per step, Swift / PyTorch; less sensitive to other jobs.")
print(f"A2L step: {a2l['gflop_per_step']:.1f} GFLOP of matmul, {a2l['gflops']:.1f} GFLOP/s achieved; "
      f"raw cblas_sgemm 1024^3: {gemm['gflops']:.1f} GFLOP/s ({100 * a2l['gflops'] / gemm['gflops']:.0f}% of peak)")
PY
