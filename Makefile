# cals — the two commands a user needs on a fresh machine: `make demo` and `make test`; each does
# its own set-up first (apt packages, Python tools, face photos, build), which a second run skips.
# `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := build

# System packages: the C libraries we link, the tools tests use (chromium: the demo report's
# headless-browser test), and the Python reference stack.
APT_PACKAGES := pkg-config libavformat-dev libavcodec-dev libavutil-dev libswscale-dev \
  libswresample-dev libavfilter-dev libsndfile1-dev libfftw3-dev libopencv-dev opencv-data libopenblas-dev \
  libhdf5-dev libsqlite3-dev libespeak-ng-dev espeak-ng-data espeak-ng ffmpeg sqlite3 \
  python3-h5py python3-numpy python3-opencv python3-torch python3-venv python3-skimage \
  python3-scipy python-matplotlib-data pocketsphinx-testdata zlib1g-dev python3-torchvision chromium \
  slurm-wlm munge libopenmpi-dev openmpi-bin
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

.PHONY: help setup apt python faces landmarks detector build check-deps test sanitize fuzz demo bench context-experiment corpus-predictability ablation-experiment preprocess preprocess-slurm train-sync pretrain-a2l train-l2f dub clean

## help: list the targets with what each does
help:
	@awk '/^## [a-z0-9-]+:/ { sub(/^## /, ""); split($$0, p, ":"); printf "  %-20s%s\n", p[1], substr($$0, length(p[1]) + 2) }' $(MAKEFILE_LIST)

## setup: install system packages and Python test tools, then build (optional: demo and test do it)
setup: apt python faces landmarks detector build

## apt: the Debian packages in APT_PACKAGES that are not installed yet (about a second when none are missing)
apt:
	@missing=$$(for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "system packages: all installed"; fi

## python: the Python reference stack in .venv (librosa, safetensors, dlib; torch and h5py from apt)
python: $(VENV)/.installed
$(VENV)/.installed: | apt
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

## detector: MTCNN's weights for `detector: cnn` (data/models/mtcnn.safetensors, never committed),
## converted by tools/mtcnn_weights.py from the facenet-pytorch wheel on PyPI. The wheel pins a newer
## torch than Debian's, so it goes in without its dependencies (torch and torchvision from apt, tqdm
## from PyPI); its MTCNN is also the golden tests' reference.
DETECTOR_MODEL := data/models/mtcnn.safetensors
detector: $(DETECTOR_MODEL)
$(DETECTOR_MODEL): tools/mtcnn_weights.py | $(VENV)/.installed
	$(PY) -c "import facenet_pytorch" 2>/dev/null || { \
	  $(VENV)/bin/pip install -q --disable-pip-version-check tqdm && \
	  $(VENV)/bin/pip install -q --disable-pip-version-check --no-deps facenet-pytorch==2.6.0; }
	mkdir -p $(@D) && $(PY) tools/mtcnn_weights.py $@

## build: the release build of the cals tool (.build/release/cals)
build: apt
	swift build -c release

## check-deps: every module imports only modules below it (tools/check_deps.py; no build needed)
check-deps:
	@python3 tools/check_deps.py

## test: the dependency check, then unit, golden (against the Python reference stack) and end-to-end tests
test: apt check-deps python faces landmarks detector
	@mkdir -p $(TEST_BUILD)
	set -o pipefail; CALS_BIN=$(CURDIR)/$(TEST_BUILD)/release/cals CALS_PYTHON=$(CURDIR)/$(PY) \
	  swift test -c release --scratch-path $(TEST_BUILD) --disable-swift-testing 2>&1 | tee $(TEST_BUILD)/test.log; \
	  status=$$?; tools/test-summary.sh $(TEST_BUILD)/test.log; exit $$status

## sanitize: the Media tests, the container/codec matrix and the fuzz corpus built with the
## address sanitizer (SwiftPM's --sanitize=address: -sanitize=address for Swift, -fsanitize=address
## for the C++ shim) in their own scratch folder; the `cals` they run is the sanitized one.
ASAN_BUILD := .build-asan
ASAN_SWIFT := swift build -c release --scratch-path $(ASAN_BUILD) --sanitize=address
sanitize: apt python faces
	$(ASAN_SWIFT)
	set -o pipefail; ASAN_OPTIONS=detect_leaks=0 CALS_BIN=$(CURDIR)/$(ASAN_BUILD)/release/cals CALS_PYTHON=$(CURDIR)/$(PY) \
	  swift test -c release --scratch-path $(ASAN_BUILD) --sanitize=address --disable-swift-testing \
	  --filter 'MediaTests|MediaMatrixTests|MediaFuzzTests' 2>&1 | tee $(ASAN_BUILD)/sanitize.log

## fuzz: the byte-flip fuzzing of `cals extract` for FUZZ_SECONDS (default 20 min; `make test`
## runs it for about 2 minutes), from seed FUZZ_SEED
FUZZ_SECONDS ?= 1200
FUZZ_SEED ?= 1000
fuzz: apt python faces
	swift build -c release --scratch-path $(TEST_BUILD)
	CALS_FUZZ_SECONDS=$(FUZZ_SECONDS) CALS_FUZZ_SEED=$(FUZZ_SEED) CALS_BIN=$(CURDIR)/$(TEST_BUILD)/release/cals \
	  CALS_PYTHON=$(CURDIR)/$(PY) swift test -c release --scratch-path $(TEST_BUILD) --disable-swift-testing \
	  --filter MediaFuzzTests

## demo: the main job end to end on the generated demo corpus, with short training runs (tools/demo.sh):
## corpus → preprocess → sync encoder → lip units → A2L → L2F → evaluation on the held-out speaker
## → $(DEMO_RUNS)/dub.mp4, side-by-side.mp4 and report.html, and a one-line verdict (a few minutes)
DEMO_RUNS := runs/demo
demo: apt build faces landmarks detector
	CALS=$(CALS) DATA=data/raw/demo OUT=data/processed/demo RUNS=$(DEMO_RUNS) tools/demo.sh

## preprocess: a dataset by its manifest: make preprocess DATASET=hdtf DATA=… OUT=…
preprocess: build
	$(CALS) preprocess manifests/$(DATASET).yaml --data $(DATA) --out $(OUT)

## preprocess-slurm: the same as a Slurm array job of TASKS parts plus a merge job into OUT, submitted
## with sbatch (DATA, OUT and the cals binary must be on a file system every node sees):
## make preprocess-slurm DATASET=hdtf DATA=… OUT=… TASKS=8 SBATCH_OPTIONS="--partition=cpu --time=04:00:00"
TASKS ?= 4
SBATCH_OPTIONS ?=
preprocess-slurm: build
	$(CALS) slurm preprocess manifests/$(DATASET).yaml --data $(DATA) --out $(OUT) --tasks $(TASKS) \
	  --sbatch-options="$(SBATCH_OPTIONS)" --submit

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

include tools/experiments.mk

## bench: speed and memory against the Python reference stack, measured in the same run
bench: build python landmarks detector
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

## clean: remove the build folders (not data/ or runs/)
clean:
	rm -rf .build $(TEST_BUILD) $(ASAN_BUILD)
