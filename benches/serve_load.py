#!/usr/bin/env python3
"""Load on `charrnn serve`, over 127.0.0.1 only: C clients at once, each one
streamed sample (server-sent events) of L chars from one model.

Starts `charrnn serve PATH --addr 127.0.0.1:0` itself, waits for its
`listening on` line, then for each client count C (default 1 and 64): C
threads each POST /api/sample {"stream": true, "length": L, "seed": i} at
the same moment and read the events as they come. Reports per C: requests/s
(C over the wall time from the first request to the last `done`), chars/s
in total, and the time to first char (p50, p99) and to the last char.
Every sample must arrive whole (L chars, or the server's stop), else it
fails. Standard library only.

  python3 benches/serve_load.py runs/lstm [--clients 1,64] [--length 2000]
"""
import argparse, http.client, json, os, statistics, subprocess, sys, threading, time

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("path", help="a run directory, checkpoint or weights file to serve")
ap.add_argument("--charrnn", default=os.environ.get("CARGO_TARGET_DIR", "target") + "/debug/charrnn")
ap.add_argument("--clients", default="1,64")
ap.add_argument("--length", type=int, default=2000)
ap.add_argument("--model", help="model id [default: the first served]")
a = ap.parse_args()

server = subprocess.Popen([a.charrnn, "serve", a.path, "--addr", "127.0.0.1:0"],
                          stdout=subprocess.PIPE, text=True)
line = server.stdout.readline().strip()
assert line.startswith("listening on http://"), line
host, port = line.removeprefix("listening on http://").rsplit(":", 1)


def request(method, path, body=None):
    c = http.client.HTTPConnection(host, int(port), timeout=600)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    return c, c.getresponse()


c, r = request("GET", "/api/models")
models = json.loads(r.read())["models"]
model = a.model or models[0]["id"]
info = next(m for m in models if m["id"] == model)
print(f"model {model}: {info['kind']} {info['layers']} x {info['hidden_size']}, "
      f"{os.cpu_count()} CPU(s); {a.length} chars per sample")


def client(i, start, out):
    start.wait()
    t0 = time.perf_counter()
    c, r = request("POST", "/api/sample", {"model": model, "length": a.length, "seed": i, "stream": True})
    assert r.status == 200, r.read()
    first, chars, event = None, 0, None
    while True:
        raw = r.readline()
        if not raw:
            break
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "char":
            if first is None:
                first = time.perf_counter() - t0
            chars += 1
        elif line.startswith("data: ") and event == "done":
            break
    out[i] = (first, chars, time.perf_counter() - t0)
    c.close()


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


print("| clients | requests/s | chars/s in total | first char p50 | first char p99 | last char p50 | last char p99 |")
print("| --- | --- | --- | --- | --- | --- | --- |")
try:
    for n in [int(x) for x in a.clients.split(",")]:
        start, out = threading.Barrier(n + 1), [None] * n
        threads = [threading.Thread(target=client, args=(i, start, out)) for i in range(n)]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        assert all(o is not None and o[1] == a.length for o in out), [o and o[1] for o in out]
        firsts, lasts = [o[0] for o in out], [o[2] for o in out]
        total = sum(o[1] for o in out)
        print(f"| {n} | {n / wall:.2f} | {total / wall:,.0f} | {1e3 * statistics.median(firsts):.1f} ms | "
              f"{1e3 * pct(firsts, 0.99):.1f} ms | {statistics.median(lasts):.2f} s | {pct(lasts, 0.99):.2f} s |")
finally:
    server.terminate()
