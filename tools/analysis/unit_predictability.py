"""How predictable are the lip units of a processed dataset? (issue 8 diagnostics)

    .venv/bin/python tools/analysis/unit_predictability.py PROCESSED SYNC_HASH [HELD_OUT_SPEAKERS]

Prints (1) the centred cosine between units k frames apart, and (2) ridge-regression bounds on
the held-out speakers, as a fraction of the mean predictor's MSE: from the audio units within ±W
(all present), and for the masked task, with a 5-frame gap of zeroed audio covering the frame at
each position 0…4 (what `--context` models can use at best, linearly).
"""
import glob
import sys

import h5py
import numpy as np

proc, checkpoint = sys.argv[1], sys.argv[2]
held = set(sys.argv[3].split(",")) if len(sys.argv) > 3 else {"s04_matthew", "s10_matthew"}
X, U, speakers = [], [], []
for path in sorted(glob.glob(proc + "/shards/*.h5")):
    f = h5py.File(path)
    units = h5py.File(f"{proc}/lip_units/{checkpoint}/{path.split('/')[-1]}")["units"][:]
    for i in range(len(f["items/first_row"])):
        a, n = int(f["items/first_row"][i]), int(f["items/row_count"][i])
        s = f["items/speaker"][i]
        speakers.append(s.decode() if isinstance(s, bytes) else s)
        X.append(f["mel"][a:a + n].reshape(n, -1))
        U.append(units[a:a + n])
train = [i for i, s in enumerate(speakers) if s not in held]
test = [i for i, s in enumerate(speakers) if s in held]


def lag_cosines(clips):
    mean = np.concatenate([U[i] for i in clips]).mean(0)
    out = {}
    for k in (1, 2, 3, 5, 10):
        values = []
        for i in clips:
            c = U[i] - mean
            c /= np.linalg.norm(c, axis=1, keepdims=True) + 1e-9
            values.append((c[:-k] * c[k:]).sum(1).mean())
        out[k] = round(float(np.mean(values)), 3)
    return out


def features(i, w, gap_position=None):
    """Audio units t−w … t+w of every frame t of clip i; the gap t−j … t−j+4 zeroed when given."""
    x, offsets = X[i], np.arange(-w, w + 1)
    f = x[np.clip(np.arange(len(x))[:, None] + offsets[None], 0, len(x) - 1)].copy()
    if gap_position is not None:
        f[:, (offsets >= -gap_position) & (offsets <= 4 - gap_position)] = 0
    return f.reshape(len(x), -1)


def ridge_ratio(w, gap_position=None):
    A = np.concatenate([features(i, w, gap_position) for i in train])
    Y = np.concatenate([U[i] for i in train])
    mean_x, std_x, mean_y = A.mean(0), A.std(0) + 1e-6, Y.mean(0)
    A = (A - mean_x) / std_x
    W = np.linalg.solve(A.T @ A + 0.01 * len(A) * np.eye(A.shape[1]), A.T @ (Y - mean_y))
    B = (np.concatenate([features(i, w, gap_position) for i in test]) - mean_x) / std_x
    T = np.concatenate([U[i] for i in test])
    return ((B @ W + mean_y - T) ** 2).mean() / ((mean_y - T) ** 2).mean()


print("centred cosine of units k frames apart: training", lag_cosines(train), " held-out", lag_cosines(test))
for w in (2, 6):
    print(f"audio ±{w}, all present: held-out MSE / mean predictor {ridge_ratio(w):.3f}")
for w in (2, 4, 8):
    ratios = [ridge_ratio(w, j) for j in range(5)]
    print(f"audio ±{w}, 5-frame gap at positions 0..4: " + " ".join(f"{r:.3f}" for r in ratios) + f"  mean {np.mean(ratios):.3f}")
