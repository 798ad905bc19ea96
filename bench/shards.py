"""Shard write and random-window read throughput: `cals bench shards` against h5py reading the
same shard. Run from the repository root after `make build`:  .venv/bin/python bench/shards.py
"""
import os
import random
import subprocess
import tempfile
import time

import h5py

CALS = os.environ.get("CALS_BIN", ".build/release/cals")
ROWS, WINDOWS, LENGTH = 2000, 200, 50


def cals(*args):
    return subprocess.run([CALS, "bench", "shards", *map(str, args)], check=True, capture_output=True,
                          text=True).stdout.split()


def h5py_windows(path):
    """Random T=50 windows inside items, frames + mel, as the trainer would read them."""
    start = time.perf_counter()
    with h5py.File(path, "r") as f:
        first, count = f["items/first_row"][:], f["items/row_count"][:]
        frames, mel = f["frames"], f["mel"]
        for _ in range(WINDOWS):
            i = random.randrange(len(first))
            row = first[i] + random.randrange(count[i] - LENGTH + 1)
            frames[row:row + LENGTH], mel[row:row + LENGTH]
    return WINDOWS * LENGTH / (time.perf_counter() - start)


def main():
    with tempfile.TemporaryDirectory() as folder:
        path, rows, seconds, size = cals("write", folder, "--rows", ROWS)
        write_fps = int(rows) / float(seconds)
        total, seconds = cals("read", path, "--windows", WINDOWS, "--length", LENGTH)
        read_fps = int(total) / float(seconds)
        python_fps = h5py_windows(path)
    print(f"shard of {ROWS} rows ({int(size) / 2**20:.0f} MiB), random windows of T={LENGTH}")
    print(f"{'':<28}{'frames/s':>10}")
    print(f"{'cals write (deflate 1)':<28}{write_fps:>10.0f}")
    print(f"{'cals read windows':<28}{read_fps:>10.0f}")
    print(f"{'h5py read windows':<28}{python_fps:>10.0f}")
    print(f"read vs h5py: {read_fps / python_fps:.2f}x")


if __name__ == "__main__":
    main()
