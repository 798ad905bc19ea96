"""Reads a `cals extract` output with h5py alone and checks every dataset's shape and dtype.
usage: check_extract.py OUT.h5 SOURCE_VIDEO; prints `ok N` or exits non-zero."""
import sys
import h5py, numpy as np

path, source = sys.argv[1], sys.argv[2]
with h5py.File(path, "r") as f:
    frames, mel, boxes, segment = f["frames"], f["mel"], f["boxes"], f["segment"]
    n = frames.shape[0]
    assert n > 0, "no rows"
    assert frames.shape == (n, 128, 128, 3) and frames.dtype == np.uint8, (frames.shape, frames.dtype)
    assert frames.chunks == (1, 128, 128, 3), frames.chunks
    assert frames.compression is not None, "frames not compressed"
    assert mel.shape == (n, 80, 4) and mel.dtype == np.float32, (mel.shape, mel.dtype)
    assert boxes.shape == (n, 4) and boxes.dtype == np.int32, (boxes.shape, boxes.dtype)
    assert segment.shape == (n,) and segment.dtype == np.int32, (segment.shape, segment.dtype)
    m = mel[...]
    assert m.min() >= -4 and m.max() <= 4, (m.min(), m.max())
    assert m.max() > -4, "mel is all silence"
    assert frames[n // 2].std() > 5, "a flat frame"
    attrs = {k: f.attrs[k] for k in f.attrs}
    src = attrs.get("source")
    src = src.decode() if isinstance(src, bytes) else src
    assert src is not None and str(src).endswith(source.split("/")[-1]), attrs
print("ok", n)
