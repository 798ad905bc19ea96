"""What mouth PSNR does knowing the mouth shape buy on the demo corpus? (issue 9)

    python3 tools/analysis/mouth_ceiling.py PROCESSED_FOLDER RAW_CORPUS_FOLDER HELD_OUT_SPEAKERS [SPLIT]

On the held-out speakers' clips (SPLIT: test, or all), for every frame, the mouth-region PSNR
(rows 64…111, columns 32…95 of the 128-pixel crop, as `cals eval l2f`) of copying the lower half of
  - the clip's middle frame (the copy-the-reference baseline of `cals eval l2f`, unaligned);
  - the frame of the same clip, at least 3 frames away, whose true mouth shape (jaw, width,
    rounding, from the corpus sidecar) is closest: what the right shape is worth with real pixels;
  - the same with the shape predicted from audio by ridge regression on the training speakers'
    log-mel units of ±K frames (K = 0, 2, 8), with R² per shape parameter.
The copies use the target clip's own frames, which a generator given one reference frame does
not have; they bound what mouth shape alone buys, not what a generator reaches.
"""
import glob
import json
import sys

import h5py
import numpy as np

processed, raw, held_out = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
split = sys.argv[4] if len(sys.argv) > 4 else "test"
MOUTH = (slice(64, 112), slice(32, 96))


def text(x):
    return x.decode() if isinstance(x, bytes) else x


clips = {}   # by item id; a re-processed item appears in a newer shard too, and the last one wins
for path in sorted(glob.glob(processed + "/shards/*.h5")):
    items = h5py.File(path, "r")["items"]
    for k in range(len(items["id"])):
        source = text(items["source"][k]).split("/")
        sidecar = json.load(open(f"{raw}/{source[-2]}/{source[-1].rsplit('.', 1)[0]}.json"))
        first, count = int(items["first_row"][k]), int(items["row_count"][k])
        clips[text(items["id"][k])] = dict(
            speaker=text(items["speaker"][k]), split=text(items["split"][k]), path=path, rows=slice(first, first + count),
            shape=np.array([[f["jaw"], f["width"], f["rounding"]] for f in sidecar["frames"][:count]]))
for clip in clips.values():
    clip["mel"] = h5py.File(clip["path"], "r")["mel"][clip["rows"]].reshape(clip["rows"].stop - clip["rows"].start, -1)
test = [c for c in clips.values() if c["speaker"] in held_out and (split == "all" or c["split"] == split)]
train = [c for c in clips.values() if c["speaker"] not in held_out]
print(f"{len(test)} held-out clips, {len(train)} training clips")


def context(mel, k):
    """[T, 320] → [T, (2k+1)·320]: the units of frames t−k … t+k (edges repeat)."""
    padded = np.pad(mel, ((k, k), (0, 0)), mode="edge")
    return np.concatenate([padded[i:i + len(mel)] for i in range(2 * k + 1)], 1)


def copy_psnr(pick):
    """Mouth PSNR of copying, for frame i of each test clip, frame pick(clip, i, candidates)."""
    squared, n = 0.0, 0
    for clip in test:
        frames = h5py.File(clip["path"], "r")["frames"][clip["rows"]].astype(np.float64) / 255
        for i in range(len(frames)):
            candidates = np.array([j for j in range(len(frames)) if abs(j - i) >= 3])
            j = pick(clip, i, candidates)
            squared += ((frames[j][MOUTH] - frames[i][MOUTH]) ** 2).mean()
            n += 1
    return 10 * np.log10(n / squared)


def nearest(shape):
    return lambda clip, i, c: c[np.abs(clip["shape"][c] - shape(clip)[i]).sum(1).argmin()]


print(f"copy the middle frame:          {copy_psnr(lambda clip, i, c: len(clip['shape']) // 2):.2f} dB")
print(f"copy the true shape's frame:    {copy_psnr(nearest(lambda clip: clip['shape'])):.2f} dB")
for k in (0, 2, 8):
    x = np.concatenate([context(c["mel"], k) for c in train])
    y = np.concatenate([c["shape"] for c in train])
    mean, scale = x.mean(0), x.std(0) + 1e-6
    xn = (x - mean) / scale
    w = np.linalg.solve(xn.T @ xn + 0.01 * len(xn) * np.eye(xn.shape[1]), xn.T @ (y - y.mean(0)))
    for c in test:
        c["predicted"] = ((context(c["mel"], k) - mean) / scale) @ w + y.mean(0)
    truth = np.concatenate([c["shape"] for c in test])
    guess = np.concatenate([c["predicted"] for c in test])
    r2 = 1 - ((truth - guess) ** 2).sum(0) / ((truth - truth.mean(0)) ** 2).sum(0)
    print(f"copy the audio-predicted shape's frame, ±{k} units: {copy_psnr(nearest(lambda clip: clip['predicted'])):.2f} dB "
          f"(R² jaw {r2[0]:.2f}, width {r2[1]:.2f}, rounding {r2[2]:.2f})")
