#!/usr/bin/env python3
"""min-char-rnn (Karpathy, 2015): the original algorithm in float64 numpy, as
a timed peer for benches/side_by_side.py and benches/compare.py.

The model, the data walk, the loss, the clipping, the Adagrad update, the
smooth loss and the sampler are the original's, step for step: a tanh RNN
over one-hot chars (vocabulary: the text's distinct chars sorted by code
point), T chars per chunk, gradients derived by hand and clamped to [-5, 5],
`mem += g*g; p -= lr*g/sqrt(mem + 1e-8)`. What is added: flags for the sizes
and for how often to print and sample, a seed, and with --time one line on
stderr that the benchmarks read:

  # timing impl=numpy iters=N loop_s=S ms_per_iter=M

  python3 benches/peers/min_char_rnn.py --data data/tinyshakespeare.txt --iters 1000 --time
"""
import argparse
import sys
import time

import numpy as np

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('--data', default='data/tinyshakespeare.txt', help='a UTF-8 text file')
ap.add_argument('--iters', type=int, default=None, help='stop after this many iterations (default: never)')
ap.add_argument('--seed', type=int, default=None, help='seeds numpy before the weights are drawn')
ap.add_argument('--hidden', type=int, default=100, help='hidden size H (default 100)')
ap.add_argument('--seq-length', type=int, default=25, help='chars per chunk T (default 25)')
ap.add_argument('--lr', type=float, default=0.1, help='learning rate (default 0.1)')
ap.add_argument('--print-every', type=int, default=100, help='print the smooth loss every K iterations (0: never)')
ap.add_argument('--sample-every', type=int, default=100, help='sample 200 chars every K iterations (0: never)')
ap.add_argument('--time', action='store_true', help='print the training loop\'s timing on stderr')
args = ap.parse_args()

data = open(args.data, encoding='utf-8').read()
chars = sorted(set(data))
V, H, T, lr = len(chars), args.hidden, args.seq_length, args.lr
print('data has %d characters, %d unique.' % (len(data), V))
char_to_ix = {c: i for i, c in enumerate(chars)}

if args.seed is not None:
    np.random.seed(args.seed)
Wxh = np.random.randn(H, V) * 0.01  # input to hidden
Whh = np.random.randn(H, H) * 0.01  # hidden to hidden
Why = np.random.randn(V, H) * 0.01  # hidden to output
bh = np.zeros((H, 1))
by = np.zeros((V, 1))


def loss_and_gradients(inputs, targets, hprev):
    """The chunk's summed -log p of its targets, the clamped gradients of the
    five parameters, and the last hidden state."""
    xs, hs, ps = {}, {-1: np.copy(hprev)}, {}
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        y = Why @ hs[t] + by
        ps[t] = np.exp(y) / np.sum(np.exp(y))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1  # softmax and cross-entropy together
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + dh_next
        draw = (1 - hs[t] * hs[t]) * dh  # through tanh
        dbh += draw
        dWxh += draw @ xs[t].T
        dWhh += draw @ hs[t - 1].T
        dh_next = Whh.T @ draw
    for d in (dWxh, dWhh, dWhy, dbh, dby):
        np.clip(d, -5, 5, out=d)
    return loss, (dWxh, dWhh, dWhy, dbh, dby), hs[len(inputs) - 1]


def sample(h, seed_ix, n):
    """n char ids drawn from the model, starting from state h and char seed_ix."""
    x = np.zeros((V, 1))
    x[seed_ix] = 1
    ids = []
    for _ in range(n):
        h = np.tanh(Wxh @ x + Whh @ h + bh)
        y = Why @ h + by
        p = np.exp(y) / np.sum(np.exp(y))
        ix = np.random.choice(range(V), p=p.ravel())
        x = np.zeros((V, 1))
        x[ix] = 1
        ids.append(ix)
    return ids


params = (Wxh, Whh, Why, bh, by)
mems = tuple(np.zeros_like(q) for q in params)  # Adagrad's memory
smooth = -np.log(1.0 / V) * T
n, p = 0, 0
start = time.perf_counter()
while args.iters is None or n < args.iters:
    if n == 0 or p + T + 1 >= len(data):
        hprev, p = np.zeros((H, 1)), 0
    inputs = [char_to_ix[c] for c in data[p:p + T]]
    targets = [char_to_ix[c] for c in data[p + 1:p + T + 1]]
    if args.sample_every > 0 and n % args.sample_every == 0:
        text = ''.join(chars[i] for i in sample(hprev, inputs[0], 200))
        print('----\n %s \n----' % text)
    loss, grads, hprev = loss_and_gradients(inputs, targets, hprev)
    smooth = smooth * 0.999 + loss * 0.001
    if args.print_every > 0 and n % args.print_every == 0:
        print('iter %d, loss: %f' % (n, smooth))
    for q, g, m in zip(params, grads, mems):
        m += g * g
        q += -lr * g / np.sqrt(m + 1e-8)
    p += T
    n += 1
loop = time.perf_counter() - start
if args.time:
    print('# timing impl=numpy iters=%d loop_s=%.6f ms_per_iter=%.6f' % (n, loop, 1e3 * loop / max(n, 1)),
          file=sys.stderr)
