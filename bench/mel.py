"""Log-mel speed: `cals bench mel` against the librosa reference on the same 60 s of speech.

Both sides start from the same float32 samples in memory and end with a new [F, 80] float32
array; both make their filterbank (and cals its FFTW plan) once, outside the timing; both are
warm, best of REPEATS. Wall time swings with other jobs on a shared machine: the CPU columns
(process CPU time, all threads) are steadier.

Run from the repository root after `make build`:  .venv/bin/python bench/mel.py
"""
import os
import subprocess
import sys
import tempfile
import time

import librosa
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "AudioFeaturesTests", "golden"))
from mel_reference import log_mel  # noqa: E402

CALS = os.environ.get("CALS_BIN", ".build/release/cals")
DATA = "/usr/share/pocketsphinx/test/data/librivox"
REPEATS = 10


def sixty_seconds():
    """The librivox test recordings end to end, repeated to exactly 60 s at 16 kHz."""
    parts = [librosa.load(os.path.join(DATA, name), sr=16000)[0] for name in sorted(os.listdir(DATA))
             if name.endswith(".wav")]
    speech = np.concatenate(parts)
    return np.resize(speech, 60 * 16000).astype(np.float32)


def main():
    audio = sixty_seconds()
    swift = {}
    with tempfile.NamedTemporaryFile(suffix=".f32") as raw:
        audio.tofile(raw.name)
        for threads in (1, 2):
            out = subprocess.run([CALS, "bench", "mel", raw.name, "--repeats", str(REPEATS), "--threads", str(threads)],
                                 check=True, capture_output=True, text=True).stdout.split()
            swift[threads], swift_frames = (float(out[0]), float(out[2])), int(out[1])
    python = python_cpu = float("inf")
    for _ in range(REPEATS):
        start, cpu_start = time.perf_counter(), time.process_time()
        frames = log_mel(audio).shape[0]
        python = min(python, time.perf_counter() - start)
        python_cpu = min(python_cpu, time.process_time() - cpu_start)
    assert frames == swift_frames, (frames, swift_frames)
    print(f"log-mel of 60 s at 16 kHz ({frames} frames), best of {REPEATS}")
    print(f"{'implementation':<20}{'seconds':>9}{'x realtime':>12}{'vs librosa':>12}{'CPU s':>9}{'CPU vs librosa':>16}")
    print(f"{'librosa':<20}{python:>9.4f}{60 / python:>12.0f}{1:>11.1f}x{python_cpu:>9.4f}{1:>15.1f}x")
    for threads, (seconds, cpu) in swift.items():
        name = f"cals, {threads} thread" + ("s" if threads > 1 else "")
        print(f"{name:<20}{seconds:>9.4f}{60 / seconds:>12.0f}{python / seconds:>11.1f}x{cpu:>9.4f}{python_cpu / cpu:>15.1f}x")
    print("target: >= 10x librosa")


if __name__ == "__main__":
    main()
