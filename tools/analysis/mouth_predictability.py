"""How much audio context does the demo corpus's mouth need? (issue 26)

    .venv/bin/python tools/analysis/mouth_predictability.py RAW_CORPUS [HELD_OUT_SPEAKERS] [--curve]

For every clip of a `cals demo-corpus` folder: the audio units of SPEC §1 (log-mel of the mp4's
audio by the reference implementation Tests/AudioFeaturesTests/golden/mel_reference.py, unit t =
mel frames 4t…4t+3), here averaged over their 4 mel frames to 80 numbers per video frame so that
±15 frames stay a small regression, and the true mouth parameters (jaw, width, rounding) of the
sidecar. Ridge regression from the units of frames t−w … t+w (edges repeat) to the three
parameters at t, trained on the other speakers, scored on HELD_OUT_SPEAKERS (default: the last
speaker folder) as R² = 1 − residual / variance (summed over the three parameters), for w = 2
and w = 15, each at its best λ of LAMBDAS by held-out R². Prints one line per window and the
ratio of residual variances (±15 / ±2; issue 26's target is ≤ 0.7). With --curve: every w from 0
to 15, and where that curve levels off by `cals experiment context`'s rule (the first w whose
residual is within 5% of the lowest) — a regression's window curve on the true mouth, not A2L's.
"""
import glob
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "AudioFeaturesTests", "golden"))
from mel_reference import log_mel  # noqa: E402

LAMBDAS = [1e-4, 1e-3, 1e-2, 0.1, 1, 10]   # × the number of training frames
WINDOWS = (2, 15)


def clip_data(mp4):
    """([T, 80] audio units, [T, 3] mouth parameters) of one clip."""
    sidecar = json.load(open(mp4[:-4] + ".json"))
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", mp4, "-f", "f32le", "-ac", "1", "-ar", "16000", "-"],
                         check=True, capture_output=True).stdout
    mel = log_mel(np.frombuffer(pcm, dtype=np.float32))                  # [F, 80]
    count = sidecar["frameCount"]
    padded = np.full((4 * count, 80), -4, dtype=np.float32)              # SPEC: missing mel frames are silence
    padded[:min(len(mel), 4 * count)] = mel[:4 * count]
    units = padded.reshape(count, 4, 80).mean(1)                         # [T, 80]
    shape = np.array([[f["jaw"], f["width"], f["rounding"]] for f in sidecar["frames"]])
    return units, shape


def windows(units, w):
    """[T, 80] → [T, (2w+1)·80]: the units of frames t−w … t+w."""
    padded = np.pad(units, ((w, w), (0, 0)), mode="edge")
    return np.concatenate([padded[i:i + len(units)] for i in range(2 * w + 1)], 1)


def best_ridge(train, test, w):
    """(best held-out R², its λ, R² per parameter at that λ) of ridge regression from ±w frames of units to the mouth."""
    x = np.concatenate([windows(u, w) for u, _ in train])
    y = np.concatenate([s for _, s in train])
    mean_x, scale_x, mean_y = x.mean(0), x.std(0) + 1e-6, y.mean(0)
    x = (x - mean_x) / scale_x
    xt = (np.concatenate([windows(u, w) for u, _ in test]) - mean_x) / scale_x
    yt = np.concatenate([s for _, s in test])
    # One eigendecomposition of XᵀX serves every λ.
    values, vectors = np.linalg.eigh(x.T @ x)
    projected = vectors.T @ (x.T @ (y - mean_y))
    variance = ((yt - yt.mean(0)) ** 2).sum(0)                            # [3]
    results = []
    for lam in LAMBDAS:
        weights = vectors @ (projected / (values + lam * len(x))[:, None])
        residual = ((xt @ weights + mean_y - yt) ** 2).sum(0)             # [3]
        results.append((1 - residual.sum() / variance.sum(), lam, 1 - residual / variance))
    return max(results, key=lambda r: r[0])


def main():
    curve = "--curve" in sys.argv
    arguments = [a for a in sys.argv[1:] if a != "--curve"]
    corpus = arguments[0]
    speakers = sorted(d for d in os.listdir(corpus) if os.path.isdir(os.path.join(corpus, d)))
    held = set(arguments[1].split(",")) if len(arguments) > 1 else {speakers[-1]}
    clips = {s: [clip_data(p) for p in sorted(glob.glob(f"{corpus}/{s}/*.mp4"))] for s in speakers}
    train = [c for s in speakers if s not in held for c in clips[s]]
    test = [c for s in speakers if s in held for c in clips[s]]
    print(f"{corpus}: {sum(len(u) for u, _ in train)} training frames, {sum(len(u) for u, _ in test)} held-out "
          f"frames ({','.join(sorted(held))})")
    r2 = {}
    for w in range(WINDOWS[1] + 1) if curve else WINDOWS:
        r2[w], lam, each = best_ridge(train, test, w)
        print(f"audio ±{w:2d} frames: held-out R² {r2[w]:.3f} (best λ {lam:g}·N; jaw {each[0]:.3f}, "
              f"width {each[1]:.3f}, rounding {each[2]:.3f})")
    print(f"residual variance ±{WINDOWS[1]} / ±{WINDOWS[0]}: {(1 - r2[WINDOWS[1]]) / (1 - r2[WINDOWS[0]]):.3f}")
    if curve:
        lowest = min(1 - r for r in r2.values())
        print(f"levels off at ±{next(w for w in sorted(r2) if 1 - r2[w] <= 1.05 * lowest)} frames")


main()
