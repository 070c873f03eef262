#!/usr/bin/env python3
"""charrnn beside the numpy original and PyTorch, on the same CPU, in one run.

Cases (f32 for charrnn and PyTorch; numpy is the original, float64, batch 1):
  rnn  B 1 / 32 / 256  tanh RNN, H 100, T 25, Adagrad (the original's settings)
  lstm B 50            2 x 128 LSTM, T 50, RMSprop 2e-3 (configs/lstm.toml)

Each repeat runs every implementation of a case once, alternating, so machine
noise hits all alike; the table shows medians of the training loops' own
timers (each program prints ms per iteration of its loop: `train bench`
leaves out its first 20 iterations, the others time all of theirs) and the
ratios of chars/s. PyTorch runs `torch.set_num_threads(N)` with
OMP_WAIT_POLICY=PASSIVE; charrnn runs `--threads N`.

  python3 benches/side_by_side.py --reference ../shared/reference \\
      [--threads 1] [--repeats 5] [--cases rnn1,rnn32,rnn256,lstm]

Needs numpy (`pip install numpy`) and PyTorch (`pip install torch`, CPU is enough).
"""
import argparse, os, re, statistics, subprocess, sys

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--reference", required=True, help="folder with min_char_rnn.py and torch_streams.py")
ap.add_argument("--train", default=os.environ.get("CARGO_TARGET_DIR", "target") + "/debug/train",
                help="the charrnn binary (built by `cargo build -p train`)")
ap.add_argument("--data", default="data/tinyshakespeare.txt")
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--repeats", type=int, default=5)
ap.add_argument("--cases", default="rnn1,rnn32,rnn256,lstm")
a = ap.parse_args()

# name: (iterations, charrnn args, torch_streams args, numpy too)
RNN = ["--hidden-size", "100", "--seq-length", "25"]
LSTM = ["--config", "lstm.toml"]
CASES = {
    "rnn1": (1000, RNN + ["--batch-size", "1"], ["--batch", "1"], True),
    "rnn32": (300, RNN + ["--batch-size", "32"], ["--batch", "32"], False),
    "rnn256": (60, RNN + ["--batch-size", "256"], ["--batch", "256"], False),
    "lstm": (40, LSTM, ["--model", "lstm", "--layers", "2", "--hidden", "128", "--seq-length", "50",
                        "--batch", "50", "--optimizer", "rmsprop", "--lr", "2e-3"], False),
}
LABEL = {"rnn1": "tanh RNN H 100 T 25, B 1", "rnn32": "tanh RNN H 100 T 25, B 32",
         "rnn256": "tanh RNN H 100 T 25, B 256", "lstm": "2 x 128 LSTM T 50, B 50"}


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    m = re.search(r"ms_per_iter=([0-9.]+)", out.stdout + out.stderr)
    if not m:
        sys.exit(f"no ms_per_iter in the output of {' '.join(cmd)}")
    return float(m.group(1))


def numpy_ms(iters):
    return run([sys.executable, os.path.join(a.reference, "min_char_rnn.py"), "--data", a.data,
                "--iters", str(iters), "--sample-every", "0", "--print-every", "0", "--seed", "1", "--time"],
               {**os.environ, "OPENBLAS_NUM_THREADS": str(a.threads)})


def torch_ms(iters, args):
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    return run([sys.executable, os.path.join(a.reference, "torch_streams.py"), "--data", a.data,
                "--iters", str(iters), "--threads", str(a.threads)] + args, env)


def charrnn_ms(iters, args):
    # `train bench` times all but its first 20 iterations.
    return run([a.train, "bench", "--data", a.data, "--iterations", str(iters + 20),
                "--threads", str(a.threads)] + args)


print(f"threads per program: {a.threads}; medians of {a.repeats} alternating runs; f32 except numpy (f64)\n")
print("| case | numpy original | PyTorch | charrnn | charrnn ÷ PyTorch | charrnn ÷ numpy |")
print("| --- | --- | --- | --- | --- | --- |")
for name in a.cases.split(","):
    iters, ours_args, torch_args, with_numpy = CASES[name]
    times = {"numpy": [], "torch": [], "charrnn": []}
    for _ in range(a.repeats):
        if with_numpy:
            times["numpy"].append(numpy_ms(iters))
        times["torch"].append(torch_ms(iters, torch_args))
        times["charrnn"].append(charrnn_ms(iters, ours_args))
    chars = {"rnn1": 25, "rnn32": 25 * 32, "rnn256": 25 * 256, "lstm": 50 * 50}[name]
    med = {k: statistics.median(v) for k, v in times.items() if v}
    cell = lambda k: f"{med[k]:.3f} ms ({chars / med[k]:.1f}k chars/s)" if k in med else "–"
    vs_numpy = f"{med['numpy'] / med['charrnn']:.2f}× faster" if "numpy" in med else "–"
    print(f"| {LABEL[name]} | {cell('numpy')} | {cell('torch')} | {cell('charrnn')} | "
          f"{med['torch'] / med['charrnn']:.2f}× | {vs_numpy} |", flush=True)
