#!/usr/bin/env bash
# `make bench`: every speed and memory benchmark, each against its Python/PyTorch reference
# measured in the same run (or against real time where no reference exists). Run from the
# repository root after `make build` and `make python`. Long: tens of minutes on 2 cores.
# Benchmarks that need a trained model (sync_shift.sh, a2l_feed.sh) run only when
# runs/sync-demo exists (make demo-train).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
status=0
section() { printf '\n==================== %s ====================\n' "$1"; }
step() { "$@" || { echo "bench step failed: $*" >&2; status=1; }; }

section "issue 3: cals extract vs the Python pipeline and the floor"
step $PY bench/extract.py 20
section "issue 23: cals extract with detector cnn vs the Python MTCNN pipeline and the floor"
step $PY bench/detector.py 10
section "issue 21: cals extract per container/codec variant"
step $PY bench/media_matrix.py 10
section "issue 3: log-mel vs librosa"
step $PY bench/mel.py
section "issue 4: shard write/read vs h5py"
step $PY bench/shards.py
section "issue 4: preprocess runner vs extract; no-change re-run of 1,000 items"
step bench/pipeline.sh 6 4
section "issue 5: tensor engine vs PyTorch (A2L step, conv block, sgemm peak)"
step bench/engine.sh --rounds 2
section "issue 24: av_sync throughput and share of a preprocess run"
step bench/av_sync.sh
section "issue 6: demo corpus generation vs real time"
step bench/corpus.sh
section "issue 7: sync encoder step vs PyTorch"
step bench/sync_step.sh
if [ -f runs/sync-demo/checkpoint.safetensors ]; then
  section "issue 7: sync-score on shifted audio"
  step bench/sync_shift.sh runs/sync-demo/checkpoint.safetensors
fi
if [ -d data/processed/demo/lip_units ]; then
  section "issue 8: A2L reader feed vs trainer"
  step bench/a2l_feed.sh
fi
if [ -x bench/l2f_step.sh ]; then
  section "issue 9: L2F generator + discriminator step vs PyTorch"
  step bench/l2f_step.sh
fi
if command -v mpirun > /dev/null; then
  section "issue 25: data-parallel sync step, 1 rank x 2 threads vs 2 ranks x 1 thread"
  step bench/data_parallel.sh
fi
section "issue 9: 68-point landmarks (LMD) vs Python dlib"
step $PY bench/landmarks.py 300
if [ -f runs/demo/l2f/checkpoint.safetensors ]; then
  section "cals dub vs real time"
  step bench/dub.sh runs/demo/l2f
fi
exit $status
