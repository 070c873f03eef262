#!/usr/bin/env python3
"""Side-by-side speed of charrnn and the numpy min-char-rnn, as whole processes.

Runs each configuration `--repeats` times, alternating numpy and charrnn runs so
that machine noise hits both alike, and reports medians of chars/s (iterations
x seq_length x batch / wall seconds of the whole process, start-up included)
and their ratio. No sampling, no printing in either. numpy runs with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (they slow a current numpy).

  python3 benches/compare.py [--charrnn target/debug/charrnn] [--iterations 2000] [--repeats 5]

The numpy original is the project's own runner, benches/peers/min_char_rnn.py.
"""
import argparse, os, statistics, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--reference", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers", "min_char_rnn.py"),
                help="the numpy original [benches/peers/min_char_rnn.py]")
ap.add_argument("--charrnn", default=os.environ.get("CARGO_TARGET_DIR", "target") + "/debug/charrnn")
ap.add_argument("--data", default="data/tinyshakespeare.txt")
ap.add_argument("--iterations", type=int, default=2000)
ap.add_argument("--repeats", type=int, default=5)
ap.add_argument("--cases", default="flex:f32:1,flex:f32:32,ndarray:f32:1,ndarray:f32:32,flex:f64:1,ndarray:f64:1",
                help="backend:precision:batch, comma-separated")
a = ap.parse_args()

numpy_env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}


def wall(cmd, env=None):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def numpy_run():
    return wall([sys.executable, a.reference, "--data", a.data, "--iters", str(a.iterations),
                 "--sample-every", "0", "--print-every", "0", "--seed", "1"], numpy_env)


def ours(backend, precision, batch, out):
    return wall([a.charrnn, "--config", "tiny.toml", "--data", a.data, "--iterations", str(a.iterations),
                 "--backend", backend, "--precision", precision, "--batch-size", str(batch),
                 "--sample-every", "0", "--print-every", "0", "--checkpoint-every", "0",
                 "--out-dir", out, "--force"])


T = 25
np_times, rows = [], []
with tempfile.TemporaryDirectory() as tmp:
    cases = [c.split(":") for c in a.cases.split(",")]
    ours_times = {tuple(c): [] for c in cases}
    for r in range(a.repeats):
        for c in cases:
            np_times.append(numpy_run())
            ours_times[tuple(c)].append(ours(c[0], c[1], int(c[2]), os.path.join(tmp, "run")))
np_cps = a.iterations * T / statistics.median(np_times)
print(f"numpy original (f64, B 1): {np_cps:,.0f} chars/s (median of {len(np_times)} whole runs of {a.iterations} iterations)")
print(f"| backend | precision | B | ms/iter | chars/s | x numpy |")
print(f"| --- | --- | --- | --- | --- | --- |")
for c, ts in ours_times.items():
    b = int(c[2])
    med = statistics.median(ts)
    cps = a.iterations * T * b / med
    print(f"| {c[0]} | {c[1]} | {b} | {1e3 * med / a.iterations:.3f} | {cps:,.0f} | {cps / np_cps:.1f}x |")
print(f"| numpy original | f64 | 1 | {1e3 * statistics.median(np_times) / a.iterations:.3f} | {np_cps:,.0f} | 1.0x |")
