"""Shared benchmark helpers: run a whole command several times, keep the median wall time and
the peak resident memory of that process (os.wait4 gives each child's own rusage)."""
import os, statistics, subprocess, sys, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALS = os.environ.get("CALS_BIN", os.path.join(REPO, ".build/release/cals"))
PY = os.environ.get("CALS_PYTHON", os.path.join(REPO, ".venv/bin/python"))
OUT = os.path.join(REPO, "bench/out")


def measure(cmd, runs=3, warmup=1, env=None):
    """Median wall seconds and max peak RSS (MiB) of `cmd` over `runs` runs after `warmup`."""
    wall, rss, _ = measure_usage(cmd, runs, warmup, env)
    return wall, rss


def measure_usage(cmd, runs=3, warmup=1, env=None):
    """`measure`, and the median CPU seconds (user + system) of `cmd`'s process: on a machine
    others share, CPU time moves less with their load than wall time does."""
    walls, rss, cpus = [], [], []
    for k in range(warmup + runs):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        if status != 0:
            sys.exit(f"benchmark command failed ({status}): {' '.join(cmd)}\n{err}")
        if k >= warmup:
            walls.append(wall)
            rss.append(usage.ru_maxrss / 1024)
            cpus.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(walls), max(rss), statistics.median(cpus)


def talking_clip(seconds):
    """The 720p 30 fps talking-face benchmark clip of `seconds` s (bench/make_clip.sh), made once
    into bench/out."""
    os.makedirs(OUT, exist_ok=True)
    clip = os.path.join(OUT, f"talk720-{seconds}s.mp4")
    if not os.path.exists(clip):
        subprocess.run([os.path.join(REPO, "bench/make_clip.sh"), clip, str(seconds)], check=True)
    return clip


def table(title, header, rows):
    """Prints a plain-text table."""
    print(f"\n## {title}")
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def time_steps(step, steps, warmup):
    """Runs `step` warmup + steps times in this process; prints one JSON object with the median
    ms per step and this process's peak RSS (MiB)."""
    import json, resource
    for _ in range(warmup):
        step()
    times = []
    for _ in range(max(steps, 1)):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"ms_per_step": round(statistics.median(times), 3), "peak_rss_mb": round(peak, 3)}))


def best_round(folder, case, side):
    """The fastest round of one side ("swift" or "torch") of an A/B benchmark (bench/ab.sh): the
    JSON line of folder/case.side with the least ms_per_step."""
    import json
    with open(os.path.join(folder, f"{case}.{side}")) as f:
        return min((json.loads(line) for line in f if line.strip()), key=lambda r: r["ms_per_step"])


def ab_table(folder, case, target, title):
    """Prints the table of a one-case A/B benchmark (bench/ab.sh): the best round of each side in
    median ms per step, the ratio Swift/PyTorch against `target`, and peak RSS."""
    import torch
    s, t = best_round(folder, case, "swift"), best_round(folder, case, "torch")
    w = max(len(case), 4)
    print(f"{title} vs PyTorch {torch.__version__} (median ms per step, best of rounds)")
    print(f"{'case':<{w}} {'swift ms':>10} {'torch ms':>10} {'ratio':>7} {'target':>8} {'swift MB':>9} {'torch MB':>9}")
    print(f"{case:<{w}} {s['ms_per_step']:>10.1f} {t['ms_per_step']:>10.1f} {s['ms_per_step'] / t['ms_per_step']:>7.2f} "
          f"{target:>8} {s['peak_rss_mb']:>9.0f} {t['peak_rss_mb']:>9.0f}")


if __name__ == "__main__" and sys.argv[1:2] == ["ab-table"]:
    ab_table(*sys.argv[2:])   # harness.py ab-table FOLDER CASE TARGET TITLE
