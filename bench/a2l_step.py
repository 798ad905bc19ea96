"""PyTorch side of bench/engine.sh: the same A2L Adam step and conv block as `cals bench`.

usage: a2l_step.py {a2l-step,conv-block,gemm} [--batch 16] [--frames 50] [--threads 2]
                   [--steps 10] [--warmup 2] [--layers 6] [--size N]
Prints one JSON object {"ms_per_step": median, "cpu_ms_per_step": median, "peak_rss_mb": …}.
"""
import argparse
import json
import os
import resource
import sys
import time

# OpenMP threads that spin while waiting steal the cores OpenBLAS's own threads need (and, on a
# shared machine, everyone else's): measured here, PyTorch's A2L step takes ~3x longer with the
# default (active) policy. Passive waiting is PyTorch's best setting on this machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ModelsTests", "golden"))
import reference  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["a2l-step", "conv-block", "gemm"])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--size", type=int, default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)

    if a.what == "a2l-step":
        model = reference.A2L(layers=a.layers).train()
        adam = torch.optim.Adam(model.parameters(), lr=1e-4)
        units = torch.randn(a.batch, a.frames, 320)
        target = torch.randn(a.batch, a.frames, 1024)
        mask = torch.tensor([[1.0 if ((b * a.frames + t) // 5) % 2 == 0 else 0.0 for t in range(a.frames)]
                             for b in range(a.batch)])

        def step():
            adam.zero_grad()
            reference.masked_mse(model(units), target, mask).backward()
            adam.step()
    elif a.what == "conv-block":
        block = reference.ConvBlock().train()
        size = a.size or 128
        x = torch.randn(a.batch, 6, size, size)

        def step():
            block.zero_grad()
            block(x).mean().backward()
    else:
        n = a.size or 1024
        x, y = torch.randn(n, n), torch.randn(n, n)

        def step():
            torch.mm(x, y)

    for _ in range(a.warmup):
        step()
    times, cpu_times = [], []
    for _ in range(max(a.steps, 1)):
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        times.append((time.perf_counter() - start) * 1000)
        cpu_times.append((time.process_time() - cpu_start) * 1000)
    median = lambda xs: sorted(xs)[len(xs) // 2]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"ms_per_step": round(median(times), 3), "cpu_ms_per_step": round(median(cpu_times), 3),
                      "peak_rss_mb": round(peak, 3)}))


if __name__ == "__main__":
    main()
