#!/usr/bin/env bash
# Data-parallel training on this machine (issue 25): the sync-encoder step of `cals train sync
# --distributed` (`cals bench data-parallel`, global batch --batch clips) as 1 rank × 2 threads
# and as 2 ranks × 1 thread under mpirun, in alternating rounds, the 2-rank run once over shared
# memory (Open MPI's default on one node) and once over TCP loopback (`--mca btl tcp,self`, what
# crosses a network between nodes). Run from the repo root after `make build`.
#   bench/data_parallel.sh [--rounds 3] [--steps 5] [--batch 4] [--windows 8] [--width 1]
# Prints, per setup, the best round's samples/s, ms per step, the ms rank 0 waits for the other
# rank before the all-reduce, all-reduce ms per step and its bandwidth (gradient bytes / all-reduce
# time), then the load average.
set -euo pipefail
source "$(dirname "$0")/ab.sh"
ab_options ROUNDS=3 STEPS=5 BATCH=4 WINDOWS=8 WIDTH=1 -- "$@"
command -v mpirun > /dev/null || { echo "mpirun not found (make apt installs openmpi-bin)" >&2; exit 1; }
ARGS=(bench data-parallel --batch "$BATCH" --windows "$WINDOWS" --width "$WIDTH" --steps "$STEPS" --json)
MPIRUN=(mpirun -np 2 --oversubscribe --allow-run-as-root --bind-to none)
for _ in $(seq "$ROUNDS"); do
  "$CALS" "${ARGS[@]}" --threads 2 >> "$AB_OUT/1x2"
  "${MPIRUN[@]}" "$CALS" "${ARGS[@]}" --threads 1 >> "$AB_OUT/2x1-shm"
  "${MPIRUN[@]}" --mca btl tcp,self "$CALS" "${ARGS[@]}" --threads 1 >> "$AB_OUT/2x1-tcp"
done
"$PY" - "$AB_OUT" "$BATCH" "$WINDOWS" "$WIDTH" <<'PYTHON'
import json, sys
out, batch, windows, width = sys.argv[1:]
print(f"sync-encoder step, global batch {batch} clips x {windows} windows, width {width}: best of rounds")
print(f"{'setup':<28}{'samples/s':>10}{'ms/step':>10}{'wait ms':>9}{'allreduce ms':>14}{'MB/step':>9}{'GB/s':>8}")
for name, label in [("1x2", "1 rank x 2 threads"), ("2x1-shm", "2 ranks x 1 thread (shm)"), ("2x1-tcp", "2 ranks x 1 thread (tcp)")]:
    best = max((json.loads(line) for line in open(f"{out}/{name}")), key=lambda r: r["samples_per_s"])
    ms, mb = best["allreduce_ms"], best["allreduce_mb_per_step"]
    print(f"{label:<28}{best['samples_per_s']:>10.2f}{best['ms_per_step']:>10.1f}{best['wait_ms']:>9.1f}{ms:>14.2f}{mb:>9.2f}"
          f"{(mb / 1e3) / (ms / 1e3) if ms > 0.01 else float('nan'):>8.2f}")
PYTHON
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (cores: $(nproc))"
