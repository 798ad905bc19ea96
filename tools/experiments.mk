# Research recipes (included by the Makefile): the experiments of issues 8 and 26, hours long.
# They use the main Makefile's variables (CALS) and its build and faces targets.

## context-experiment: issue 8's A2L context experiment end to end (about 2 hours on 2 cores).
## A sync encoder trained on a 12-speaker word-list corpus makes the lip units of a GRID-grammar
## corpus; full-context and --context 2 A2L models train on it with the same steps and data; then
## the masked-unit MSE of both on every held-out window, the window curve and the 7-frame gap test.
## Results: $(CTX_RUNS)/a2l-*/eval-all.json and $(CTX_RUNS)/a2l-full/context/.
## CTX_VERSION=3 makes both corpora at that corpus version, in their own folders (context-v3-*).
# --resume when the run folder $(1) already holds a checkpoint (the experiments continue stopped runs)
RESUME_IF = $(if $(wildcard $(1)/checkpoint.safetensors),--resume)
CTX_VERSION ?= 1
CTX_NAME = context$(if $(filter-out 1,$(CTX_VERSION)),-v$(CTX_VERSION))
CTX_RUNS ?= runs/$(CTX_NAME)
CTX_STEPS ?= 200000
CTX_VOICES := en+m3,en+f2,en-us+f4,en-us+m1,en+m7,en+f4,en+m1,en+f3,en-us+f2,en+m4,en+m2,en+f1
CTX_HELD_OUT := s04_matthew,s10_matthew
CTX_A2L = $(CALS) train a2l --data data/processed/$(CTX_NAME)-grid --steps $(CTX_STEPS) --threads 1 \
  --layers 2 --dim 128 --heads 4 --ff 512 --held-out $(CTX_HELD_OUT) --eval-windows 180 \
  $(call RESUME_IF,$(CTX_RUNS)/a2l-$(1)) --out $(CTX_RUNS)/a2l-$(1)
context-experiment: build faces
	@test -d data/raw/$(CTX_NAME)-words || $(CALS) demo-corpus --out data/raw/$(CTX_NAME)-words --speakers 12 --clips 30 \
	  --voices $(CTX_VOICES) --corpus-version $(CTX_VERSION)
	$(CALS) preprocess manifests/demo.yaml --data data/raw/$(CTX_NAME)-words --out data/processed/$(CTX_NAME)-words
	@test -f $(CTX_RUNS)/sync/checkpoint.safetensors || $(CALS) train sync --data data/processed/$(CTX_NAME)-words \
	  --out $(CTX_RUNS)/sync --steps 8000 --cosine-decay --loss-offsets 15 --exclude-near 2 --held-out $(CTX_HELD_OUT)
	@test -d data/raw/$(CTX_NAME)-grid || $(CALS) demo-corpus --out data/raw/$(CTX_NAME)-grid --speakers 12 --clips 60 \
	  --grammar grid --voices $(CTX_VOICES) --corpus-version $(CTX_VERSION)
	$(CALS) preprocess manifests/demo.yaml --data data/raw/$(CTX_NAME)-grid --out data/processed/$(CTX_NAME)-grid \
	  --lip-units $(CTX_RUNS)/sync/checkpoint.safetensors
	$(call CTX_A2L,full) & full=$$!; $(call CTX_A2L,ctx2) --context 2 & ctx2=$$!; wait $$full && wait $$ctx2
	for arm in full ctx2; do $(CALS) eval a2l --checkpoint $(CTX_RUNS)/a2l-$$arm/checkpoint.safetensors \
	  --data data/processed/$(CTX_NAME)-grid --windows 720 || exit 1; done
	$(CALS) experiment context --checkpoint $(CTX_RUNS)/a2l-full/checkpoint.safetensors \
	  --baseline $(CTX_RUNS)/a2l-ctx2/checkpoint.safetensors --data data/processed/$(CTX_NAME)-grid --windows 360

## corpus-predictability: issue 26's check that the mouth of corpus versions 2 and 3 needs audio
## context, before any training. The same 24-speaker corpus (20 clips of 4 s, 64-pixel frames: the
## frames play no part) at versions 1, 2 and 3, then for each the best ridge regression from ±2 and
## ±15 frames of log-mel to the true mouth parameters, scored on 4 held-out speakers.
## PRED_FLAGS=--curve: every window from ±0 to ±15 and where that curve levels off.
PRED_HELD_OUT := s05_astronaut,s11_hanks,s23_hanks,s24_grace
PRED_FLAGS ?=
corpus-predictability: build faces python
	for v in 1 2 3; do test -d data/raw/predictability-v$$v || $(CALS) demo-corpus --out data/raw/predictability-v$$v \
	  --speakers 24 --clips 20 --seconds 4 --size 64 --seed 3 --corpus-version $$v || exit 1; \
	  $(PY) tools/analysis/mouth_predictability.py data/raw/predictability-v$$v $(PRED_HELD_OUT) $(PRED_FLAGS) || exit 1; done

## ablation-experiment: issue 26's comparison from nothing, A2L lip units against the 0.2 s window
## encoder (tools/ablation.sh): corpus version CORPUS_VERSION → preprocess → sync encoder → lip
## units → A2L (+ window curve) → paired L2F runs over ABL_SEEDS, plus --no-dav and --no-dvv →
## held-out scores of the last third's kept checkpoints → the paired table. ABL_SCALE=full is
## sized for 2.5 h on 2 cores; ABL_SCALE=tiny runs the same chain in minutes. Stages are keyed by
## their flags: a re-run skips what is done and resumes a killed run.
## Results: runs/ablation-$(ABL_SCALE)/l2f-<key>/summary.md and summary.json.
ABL_SCALE ?= full
ABL_SEEDS ?= 1 2 3 4 5
CORPUS_VERSION ?= 3
ablation-experiment: build faces landmarks detector
	CALS=$(CALS) ABL_SCALE=$(ABL_SCALE) ABL_SEEDS="$(ABL_SEEDS)" CORPUS_VERSION=$(CORPUS_VERSION) tools/ablation.sh
