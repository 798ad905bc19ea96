#!/usr/bin/env bash
# Data-parallel training on this machine (issue 25): the sync-encoder step of `cals train sync
# --distributed` (`cals bench data-parallel`, global batch --batch clips) as 1 rank × 2 threads
# and as 2 ranks × 1 thread under mpirun, in alternating rounds, the 2-rank run over shared memory
# (Open MPI's default on one node) and over TCP loopback (`--mca btl tcp,self`, what crosses a
# network between nodes), each with the all-reduce overlapped with backward (buckets of
# --bucket-mb MiB started as their gradients are final) and without (all buckets after backward).
# Run from the repo root after `make build`.
#   bench/data_parallel.sh [--rounds 3] [--steps 5] [--batch 4] [--windows 8] [--width 1] [--bucket-mb 4]
# Prints, per setup, the best round's samples/s, ms and CPU ms per step (rank 0), the ms rank 0
# waits for the other rank between forward and backward, backward ms (with the all-reduce work
# done inside it), the all-reduce ms left exposed after backward, buckets (started during
# backward), and the bandwidth S / exposed all-reduce time; then the load average.
set -euo pipefail
source "$(dirname "$0")/ab.sh"
ab_options ROUNDS=3 STEPS=5 BATCH=4 WINDOWS=8 WIDTH=1 BUCKET_MB=4 -- "$@"
command -v mpirun > /dev/null || { echo "mpirun not found (make apt installs openmpi-bin)" >&2; exit 1; }
ARGS=(bench data-parallel --batch "$BATCH" --windows "$WINDOWS" --width "$WIDTH" --steps "$STEPS" --bucket-mb "$BUCKET_MB" --json)
MPIRUN=(mpirun -np 2 --oversubscribe --allow-run-as-root --bind-to none)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$ROUNDS"); do
  "$CALS" "${ARGS[@]}" --threads 2 >> "$AB_OUT/1x2"
  for overlap in overlap no-overlap; do
    "${MPIRUN[@]}" "$CALS" "${ARGS[@]}" --threads 1 "--$overlap" >> "$AB_OUT/2x1-shm-$overlap"
    "${MPIRUN[@]}" --mca btl tcp,self "$CALS" "${ARGS[@]}" --threads 1 "--$overlap" >> "$AB_OUT/2x1-tcp-$overlap"
  done
done
"$PY" - "$AB_OUT" "$BATCH" "$WINDOWS" "$WIDTH" "$BUCKET_MB" <<'PYTHON'
import json, sys
out, batch, windows, width, bucket = sys.argv[1:]
print(f"sync-encoder step, global batch {batch} clips x {windows} windows, width {width}, buckets {bucket} MiB: best of rounds")
print(f"{'setup':<36}{'samples/s':>10}{'ms/step':>9}{'cpu ms':>8}{'wait':>7}{'backward':>10}{'in bwd':>8}"
      f"{'exposed':>9}{'buckets':>9}{'MB/step':>8}{'GB/s':>7}")
setups = [("1x2", "1 rank x 2 threads")] + [
    (f"2x1-{link}-{mode}", f"2 ranks x 1 thread ({link}, {mode})") for link in ("shm", "tcp") for mode in ("overlap", "no-overlap")]
for name, label in setups:
    best = max((json.loads(line) for line in open(f"{out}/{name}")), key=lambda r: r["samples_per_s"])
    exposed, mb = best["allreduce_exposed_ms"], best["allreduce_mb_per_step"]
    buckets = f"{int(best['buckets'])} ({int(best['buckets_started_in_backward'])})"
    print(f"{label:<36}{best['samples_per_s']:>10.2f}{best['ms_per_step']:>9.1f}{best['cpu_ms_per_step']:>8.1f}{best['wait_ms']:>7.1f}"
          f"{best['backward_ms']:>10.1f}{best['allreduce_in_backward_ms']:>8.2f}{exposed:>9.2f}{buckets:>9}{mb:>8.2f}"
          f"{(mb / 1e3) / (exposed / 1e3) if exposed > 0.01 else float('nan'):>7.2f}")
PYTHON
echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg) (cores: $(nproc))"
