"""Describes an HDF5 file with h5py alone (nothing of ours), as JSON on stdout, so the Swift
tests can check what h5py users will see.

    describe_h5.py FILE            # datasets (shape, dtype, chunks, compression, sum, head), attrs, xxh64
    describe_h5.py make-foreign FILE VERSION   # a shard-looking file with format_version VERSION
    describe_h5.py make-v1 FILE    # a complete shard of format version 1 (no frame_index, no damage)
"""
import json
import sys

import h5py
import numpy as np
import xxhash


def plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def describe(path):
    out = {"datasets": {}, "attrs": {}}
    with h5py.File(path, "r") as f:
        out["attrs"] = {k: plain(v) for k, v in f.attrs.items()}

        def visit(name, obj):
            if not isinstance(obj, h5py.Dataset):
                return
            entry = {"shape": list(obj.shape), "dtype": str(obj.dtype), "chunks": obj.chunks and list(obj.chunks),
                     "compression": obj.compression, "attrs": {k: plain(v) for k, v in obj.attrs.items()}}
            if h5py.check_string_dtype(obj.dtype) is not None:
                entry["dtype"] = "str"
                entry["values"] = list(obj.asstr()[...])
            else:
                data = obj[...]
                entry["sum"] = float(data.astype(np.float64).sum())
                entry["head"] = data.reshape(-1)[:8].astype(np.float64).tolist()
            out["datasets"][name] = entry

        f.visititems(visit)
    with open(path, "rb") as raw:
        out["xxh64"] = xxhash.xxh64(raw.read()).hexdigest()
    return out


def make_foreign(path, version):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "cals-shard"
        f.attrs["format_version"] = int(version)
        f.attrs["parameters"] = "{}"
        f.attrs["creator"] = "h5py"
        f.create_dataset("frames", data=np.zeros((2, 128, 128, 3), np.uint8))


def make_v1(path):
    """The layout version 1 writers produced: two items of 3 and 2 rows, frame r all r, mel r all r."""
    strings = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "cals-shard"
        f.attrs["format_version"] = 1
        f.attrs["parameters"] = "{}"
        f.attrs["creator"] = "cals 0.1.0"
        f.create_dataset("frames", data=np.arange(5, dtype=np.uint8).reshape(5, 1, 1, 1) * np.ones((1, 128, 128, 3), np.uint8),
                         chunks=(1, 128, 128, 3), maxshape=(None, 128, 128, 3), compression="gzip")
        f.create_dataset("mel", data=np.arange(5, dtype=np.float32).reshape(5, 1, 1) * np.ones((1, 80, 4), np.float32),
                         chunks=(64, 80, 4), maxshape=(None, 80, 4))
        for name, values in [("id", ["a", "b"]), ("source", ["a.mp4", "b.mp4"]), ("fingerprint", ["fa", "fb"]),
                             ("speaker", ["s", "s"]), ("split", ["train", "val"])]:
            f.create_dataset("items/" + name, data=np.array(values, dtype=object), dtype=strings)
        f.create_dataset("items/first_row", data=np.array([0, 3], np.int64))
        f.create_dataset("items/row_count", data=np.array([3, 2], np.int64))


if __name__ == "__main__":
    if sys.argv[1] == "make-foreign":
        make_foreign(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "make-v1":
        make_v1(sys.argv[2])
    else:
        json.dump(describe(sys.argv[1]), sys.stdout)
