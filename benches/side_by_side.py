#!/usr/bin/env python3
"""charrnn beside the numpy original and PyTorch, on the same CPU, in one run.

Cases (f32 for charrnn and PyTorch; numpy is the original, float64, batch 1):
  rnn  B 1 / 32 / 256  tanh RNN, H 100, T 25, Adagrad (the original's settings)
  lstm B 50            2 x 128 LSTM, T 50, RMSprop 2e-3 (configs/lstm.toml)
  lstm128 lstm256 lstm512 gru128 gru256 gru512
                       2-layer LSTM / GRU of that width, B 50, T 50, Adam 2e-3,
                       dropout 0: with GFLOP/s and the fraction of this
                       machine's f32 matrix-product peak (the better of
                       PyTorch's and charrnn's own 2048² product on the same
                       thread count, measured in the same run)

Each repeat runs every implementation of a case once, alternating, so machine
noise hits all alike; the table shows medians of the training loops' own
timers (each program prints ms per iteration of its loop: `charrnn bench`
leaves out its first 20 iterations, the others time all of theirs) and the
ratios of chars/s. PyTorch runs `torch.set_num_threads(N)` with
OMP_WAIT_POLICY=PASSIVE; charrnn runs `--threads N`.

  python3 benches/side_by_side.py [--threads 1,2] [--repeats 5] [--cases rnn1,rnn32,rnn256,lstm,lstm512,...]

The peers are the project's own (benches/peers/): min_char_rnn.py, the
original in numpy, and torch_streams.py, PyTorch in charrnn's stream
semantics. The charrnn binary is the one `cargo build -p train` makes.

Peak resident memory (each process's own, from wait4) is shown beside the times.

Needs numpy (`pip install numpy`) and PyTorch (`pip install torch`, CPU is enough).
"""
import argparse, os, re, statistics, subprocess, sys

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--peers", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"),
                help="folder with min_char_rnn.py and torch_streams.py [benches/peers]")
ap.add_argument("--charrnn", default=os.environ.get("CARGO_TARGET_DIR", "target") + "/debug/charrnn",
                help="the charrnn binary (built by `cargo build -p train`)")
ap.add_argument("--data", default="data/tinyshakespeare.txt")
ap.add_argument("--threads", default="1", help="thread counts to run, e.g. 1,2")
ap.add_argument("--repeats", type=int, default=5)
ap.add_argument("--cases", default="rnn1,rnn32,rnn256,lstm")
a = ap.parse_args()

# name: (iterations, charrnn args, torch_streams args, numpy too)
RNN = ["--hidden-size", "100", "--seq-length", "25"]
LSTM = ["--config", "lstm.toml"]
BIG = lambda kind, h: (
    {128: 30, 256: 12, 512: 5}[h],
    ["--model", kind, "--layers", "2", "--hidden-size", str(h), "--seq-length", "50",
     "--batch-size", "50", "--optimizer", "adam", "--learning-rate", "2e-3", "--dropout", "0"],
    ["--model", kind, "--layers", "2", "--hidden", str(h), "--seq-length", "50", "--batch", "50",
     "--optimizer", "adam", "--lr", "2e-3"], False)
CASES = {
    "rnn1": (1000, RNN + ["--batch-size", "1"], ["--batch", "1"], True),
    "rnn32": (300, RNN + ["--batch-size", "32"], ["--batch", "32"], False),
    "rnn256": (60, RNN + ["--batch-size", "256"], ["--batch", "256"], False),
    "lstm": (40, LSTM, ["--model", "lstm", "--layers", "2", "--hidden", "128", "--seq-length", "50",
                        "--batch", "50", "--optimizer", "rmsprop", "--rmsprop-alpha", "0.95", "--lr", "2e-3"], False),
}
for kind in ("lstm", "gru"):
    for h in (128, 256, 512):
        CASES[f"{kind}{h}"] = BIG(kind, h)
LABEL = {"rnn1": "tanh RNN H 100 T 25, B 1", "rnn32": "tanh RNN H 100 T 25, B 32",
         "rnn256": "tanh RNN H 100 T 25, B 256", "lstm": "2 x 128 LSTM T 50, B 50 (lstm.toml)"}
for k in CASES:
    LABEL.setdefault(k, f"2 x {k[-3:]} {k[:-3].upper()} T 50, B 50, Adam")
VOCAB = 65  # tinyshakespeare


def gflop_per_iter(name):
    """Multiply-adds × 2 of one iteration: per step, each layer's recurrent
    product and (above layer 1) its input projection, [B,H]×[H,G·H]; the
    output projection once per chunk; the backward about twice the forward."""
    if name in ("rnn1", "rnn32", "rnn256"):
        b, h, t, g, layers = {"rnn1": 1, "rnn32": 32, "rnn256": 256}[name], 100, 25, 1, 1
    else:
        kind, h = (name[:-3], int(name[-3:])) if name != "lstm" else ("lstm", 128)
        b, t, g, layers = 50, 50, {"lstm": 4, "gru": 3}[kind], 2
    per_step = (2 * layers - 1) * 2 * b * h * g * h
    forward = t * per_step + 2 * t * b * h * VOCAB
    return 3 * forward / 1e9


PEAK_RSS = {}  # program -> list of peak resident MB


def run(cmd, env=None, key="ms_per_iter", who=None):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = p.communicate()
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err[-2000:]}")
    m = re.search(key + r"=([0-9.]+)", out + err)
    if not m:
        sys.exit(f"no {key} in the output of {' '.join(cmd)}")
    if who:
        PEAK_RSS.setdefault(who, []).append(max_rss_mb(out + err))
    return float(m.group(1))


def max_rss_mb(output):
    """The process's own peak: charrnn prints it; torch_streams is measured here."""
    m = re.search(r"peak_rss_mb=([0-9.]+)", output)
    return float(m.group(1)) if m else None


def numpy_ms(iters):
    return run([sys.executable, os.path.join(a.peers, "min_char_rnn.py"), "--data", a.data,
                "--iters", str(iters), "--sample-every", "0", "--print-every", "0", "--seed", "1", "--time"],
               {**os.environ, "OPENBLAS_NUM_THREADS": "1"})


def torch_ms(iters, args, threads):
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    # A wrapper reports the peak resident memory of the PyTorch process itself.
    code = ("import resource, runpy, sys; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__'); "
            "print('peak_rss_mb=%.1f' % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))")
    return run([sys.executable, "-c", code, os.path.join(a.peers, "torch_streams.py"), "--data", a.data,
                "--iters", str(iters), "--threads", str(threads)] + args, env, who="torch")


def charrnn_ms(iters, args, threads):
    # `charrnn bench` times all but its first 20 iterations.
    return run([a.charrnn, "bench", "--data", a.data, "--iterations", str(iters + 20),
                "--threads", str(threads)] + args, who="charrnn")


def peak_gflops(threads):
    """The better of PyTorch's and charrnn's own 2048² f32 product."""
    code = ("import time, torch; torch.set_num_threads(%d); n = 2048; x = torch.rand(n, n); y = torch.rand(n, n); "
            "best = min((lambda s: (x @ y, time.perf_counter() - s)[1])(time.perf_counter()) for _ in range(12)); "
            "print('gflops=%%.1f' %% (2 * n ** 3 / best / 1e9))" % threads)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    theirs = run([sys.executable, "-c", code], env, key="gflops")
    ours = run([a.charrnn, "bench", "--matmul", "2048", "--threads", str(threads)], key="gflops")
    return max(theirs, ours), theirs, ours


for threads in [int(t) for t in a.threads.split(",")]:
    peak, theirs, ours = peak_gflops(threads)
    print(f"\n### {threads} thread(s) per program; medians of {a.repeats} alternating runs; f32 except numpy (f64)")
    print(f"f32 2048² product: PyTorch {theirs:.1f} GFLOP/s, charrnn {ours:.1f} GFLOP/s; peak {peak:.1f}\n")
    print("| case | numpy original | PyTorch | charrnn | charrnn ÷ PyTorch | GFLOP/s PyTorch / charrnn | of peak | peak memory PyTorch / charrnn |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in a.cases.split(","):
        iters, ours_args, torch_args, with_numpy = CASES[name]
        times = {"numpy": [], "torch": [], "charrnn": []}
        PEAK_RSS.clear()
        for _ in range(a.repeats):
            if with_numpy and threads == 1:
                times["numpy"].append(numpy_ms(iters))
            times["torch"].append(torch_ms(iters, torch_args, threads))
            times["charrnn"].append(charrnn_ms(iters, ours_args, threads))
        chars = {"rnn1": 25, "rnn32": 25 * 32, "rnn256": 25 * 256}.get(name, 50 * 50)
        med = {k: statistics.median(v) for k, v in times.items() if v}
        cell = lambda k: f"{med[k]:.3f} ms ({chars / med[k]:.1f}k chars/s)" if k in med else "–"
        gf = gflop_per_iter(name)
        rate = {k: gf / (med[k] / 1e3) for k in ("torch", "charrnn")}
        mem = {k: max((m for m in PEAK_RSS.get(k, []) if m), default=0) for k in ("torch", "charrnn")}
        print(f"| {LABEL[name]} | {cell('numpy')} | {cell('torch')} | {cell('charrnn')} | "
              f"{med['torch'] / med['charrnn']:.2f}× | {rate['torch']:.1f} / {rate['charrnn']:.1f} | "
              f"{rate['torch'] / peak:.0%} / {rate['charrnn'] / peak:.0%} | "
              f"{mem['torch']:.0f} / {mem['charrnn']:.0f} MB |", flush=True)
