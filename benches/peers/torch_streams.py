#!/usr/bin/env python3
"""A PyTorch (CPU) peer of charrnn's training loop, in charrnn's stream
semantics, for benches/side_by_side.py and the recipe's side by side.

The data walk is charrnn's: the training text (the file's first 1 - val_frac)
is cut into B contiguous segments of L = len // B chars; all streams share
one offset p and reset together (state 0, p = 0) at iteration 0 and whenever
p + T + 1 >= L; then p += T. The network is charrnn's: one-hot chars (an
identity nn.Embedding, frozen), nn.RNN (tanh) / nn.LSTM / nn.GRU of --layers
with dropout between layers and before nn.Linear to V logits. The loss is
the mean over streams of each stream's chunk sum of -log p (B = 1: the
original's). Every gradient is clamped to [-clip, clip] before the update:
`adagrad` is the original's (mem += g^2; p -= lr g / sqrt(mem + 1e-8)),
`adam` and `rmsprop` are torch.optim's (AdamW with --weight-decay).

charrnn's regularisers: --weight-drop P multiplies each layer's W_hh by a
mask of 0 and 1/(1 - P) drawn once per iteration (torch.func.functional_call,
so the gradient flows to the raw weights); --ema D evaluates an exponential
moving average of the weights, updated after each step with
d = min(D, (1 + n)/(10 + n)).

Schedules (charrnn's `lr_schedule`): step (x --lr-decay every
--lr-decay-every epochs after --lr-decay-after epochs; an epoch is
(L - 1) // T iterations) and cosine (linear warm-up over --warmup
iterations, then down to --final-frac x lr at --cosine-iters).

Prints on stderr, for the benchmarks to read:
  # timing impl=torch-MODEL-DTYPE ... iters=N loop_s=S ms_per_iter=M chars_per_s=C
  # val iter=N train_s=S val_nats_per_char=X best=Y     (with --val-frac > 0)
The validation loss reads the held-out text as 64 streams from a zero state
(evaluations every --eval-every-s seconds of training, not counted in them).

  python3 benches/peers/torch_streams.py --data data/tinyshakespeare.txt --model lstm \\
      --layers 2 --hidden 128 --seq-length 50 --batch 50 --optimizer adam --lr 2e-3 --iters 100

Needs PyTorch (`pip install torch`; the CPU build is enough).
"""
import argparse
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('--data', required=True, help='a UTF-8 text file')
ap.add_argument('--model', choices=['rnn', 'lstm', 'gru'], default='rnn')
ap.add_argument('--layers', type=int, default=1)
ap.add_argument('--hidden', type=int, default=100)
ap.add_argument('--seq-length', type=int, default=25)
ap.add_argument('--batch', type=int, default=1)
ap.add_argument('--dropout', type=float, default=0.0)
ap.add_argument('--optimizer', choices=['adagrad', 'adam', 'rmsprop'], default='adagrad')
ap.add_argument('--lr', type=float, default=0.1)
ap.add_argument('--rmsprop-alpha', type=float, default=0.99)
ap.add_argument('--weight-decay', type=float, default=0.0, help='decoupled (AdamW), with --optimizer adam')
ap.add_argument('--clip', type=float, default=5.0)
ap.add_argument('--dtype', choices=['float32', 'float64'], default='float32')
ap.add_argument('--threads', type=int, default=1)
ap.add_argument('--seed', type=int, default=1)
ap.add_argument('--iters', type=int, default=None, help='train this many iterations')
ap.add_argument('--seconds', type=float, default=None, help='or train for this much wall time')
ap.add_argument('--val-frac', type=float, default=0.0, help='hold out the file\'s last fraction')
ap.add_argument('--eval-every-s', type=float, default=None, help='evaluate every this many seconds of training')
ap.add_argument('--lr-schedule', choices=['constant', 'step', 'cosine'], default='constant')
ap.add_argument('--lr-decay', type=float, default=0.97)
ap.add_argument('--lr-decay-every', type=float, default=1.0, help='epochs')
ap.add_argument('--lr-decay-after', type=float, default=10.0, help='epochs')
ap.add_argument('--warmup', type=int, default=0, help='cosine: warm-up iterations')
ap.add_argument('--final-frac', type=float, default=0.1, help='cosine: the final lr as a fraction of --lr')
ap.add_argument('--cosine-iters', type=int, default=None, help='cosine: iterations to the final lr [--iters]')
ap.add_argument('--init-uniform', type=float, default=None, help='every weight and bias U(-s, s) (char-rnn: 0.08)')
ap.add_argument('--weight-drop', type=float, default=0.0, help='DropConnect on W_hh (charrnn\'s weight_drop)')
ap.add_argument('--ema', type=float, default=0.0, help='evaluate a moving average of the weights (charrnn\'s ema)')
ap.add_argument('--sample-prime', default=None, help='print a sample from this prime at the end')
ap.add_argument('--sample-len', type=int, default=400)
ap.add_argument('--temperature', type=float, default=0.8)
ap.add_argument('--forget-bias', type=float, default=None, help='LSTM: the forget gates\' bias at init')
args = ap.parse_args()
if args.iters is None and args.seconds is None:
    sys.exit('give --iters or --seconds')

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
dtype = getattr(torch, args.dtype)
text = open(args.data, encoding='utf-8').read()
chars = sorted(set(text))
V, B, T, H = len(chars), args.batch, args.seq_length, args.hidden
index = {c: i for i, c in enumerate(chars)}
ids = torch.tensor([index[c] for c in text], dtype=torch.long)
n_val = int(len(ids) * args.val_frac)
train_ids, val_ids = ids[:len(ids) - n_val], ids[len(ids) - n_val:]
L = len(train_ids) // B
segments = train_ids[:B * L].view(B, L)  # [B, L]: stream b is segment b


class Network(nn.Module):
    def __init__(self):
        super().__init__()
        self.one_hot = nn.Embedding(V, V)
        with torch.no_grad():
            self.one_hot.weight.copy_(torch.eye(V))
        self.one_hot.weight.requires_grad_(False)
        cell = {'rnn': nn.RNN, 'lstm': nn.LSTM, 'gru': nn.GRU}[args.model]
        self.rnn = cell(V, H, num_layers=args.layers, dropout=args.dropout if args.layers > 1 else 0.0)
        self.drop = nn.Dropout(args.dropout)
        self.out = nn.Linear(H, V)

    def forward(self, x, state):  # x [T, B] -> logits [T, B, V]
        h, state = self.rnn(self.one_hot(x), state)
        return self.out(self.drop(h)), state

    def forward_weight_dropped(self, x, state, p):
        """forward with each W_hh times a fresh DropConnect mask."""
        dropped = {}
        for k in range(args.layers):
            w = getattr(self.rnn, 'weight_hh_l%d' % k)
            dropped['rnn.weight_hh_l%d' % k] = w * (torch.rand_like(w) >= p).to(w.dtype) / (1 - p)
        return torch.func.functional_call(self, dropped, (x, state))


net = Network().to(dtype)
with torch.no_grad():
    if args.init_uniform is not None:
        for q in net.parameters():
            if q.requires_grad:
                q.uniform_(-args.init_uniform, args.init_uniform)
    if args.forget_bias is not None and args.model == 'lstm':
        for name, q in net.rnn.named_parameters():  # gates i, f, g, o
            if name.startswith('bias_ih'):
                q[H:2 * H] = args.forget_bias
            elif name.startswith('bias_hh'):
                q[H:2 * H] = 0.0
params = [q for q in net.parameters() if q.requires_grad]
if args.optimizer == 'adam':
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay) if args.weight_decay > 0 \
        else torch.optim.Adam(params, lr=args.lr)
elif args.optimizer == 'rmsprop':
    opt = torch.optim.RMSprop(params, lr=args.lr, alpha=args.rmsprop_alpha)
else:
    opt, mems = None, [torch.zeros_like(q) for q in params]
epoch_iters = max(1, (L - 1) // T)
average = [q.detach().clone() for q in params] if args.ema > 0 else None


@torch.no_grad()
def use_weights(values):
    """Copies `values` into the parameters; returns what they held."""
    held = [q.detach().clone() for q in params]
    for q, v in zip(params, values):
        q.copy_(v)
    return held


@torch.no_grad()
def update_average(n):
    d = min(args.ema, (1 + n) / (10 + n))
    for a, q in zip(average, params):
        a.mul_(d).add_(q, alpha=1 - d)


def lr_at(n):
    """The learning rate of iteration n (charrnn's schedules)."""
    if args.lr_schedule == 'step':
        epoch = n / epoch_iters
        if epoch < args.lr_decay_after:
            return args.lr
        return args.lr * args.lr_decay ** (1 + int((epoch - args.lr_decay_after) // args.lr_decay_every))
    if args.lr_schedule == 'cosine':
        if n < args.warmup:
            return args.lr * (n + 1) / args.warmup
        total = args.cosine_iters or args.iters or 10 ** 9
        f = min(1.0, (n - args.warmup) / max(1, total - args.warmup))
        return args.lr * (args.final_frac + (1 - args.final_frac) * 0.5 * (1 + math.cos(math.pi * f)))
    return args.lr


def detached(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


@torch.no_grad()
def validation_loss():
    """Mean -log p per char of the held-out text, read as 64 streams (with
    --ema, of the averaged weights)."""
    raw = use_weights(average) if average is not None else None
    net.eval()
    streams = 64
    length = (len(val_ids) - 1) // streams
    x = val_ids[:streams * length].view(streams, length).t()
    y = val_ids[1:streams * length + 1].view(streams, length).t()
    total, state = 0.0, None
    for s in range(0, length, 100):
        logits, state = net(x[s:s + 100], state)
        total += F.cross_entropy(logits.reshape(-1, V).double(), y[s:s + 100].reshape(-1), reduction='sum').item()
    net.train()
    if raw is not None:
        use_weights(raw)
    return total / (streams * length)


def report(n, trained, best):
    v = validation_loss()
    best = v if best is None else min(best, v)
    print('# val iter=%d train_s=%.1f val_nats_per_char=%.4f best=%.4f' % (n, trained, v, best),
          file=sys.stderr, flush=True)
    return best


n, p, state, best = 0, 0, None, None
start, paused, next_eval = time.perf_counter(), 0.0, args.eval_every_s
while True:
    trained = time.perf_counter() - start - paused
    if (args.iters is not None and n >= args.iters) or (args.seconds is not None and trained >= args.seconds):
        break
    if next_eval is not None and n_val > 0 and trained >= next_eval:
        e0 = time.perf_counter()
        best = report(n, trained, best)
        next_eval += args.eval_every_s
        paused += time.perf_counter() - e0
    if n == 0 or p + T + 1 >= L:
        state, p = None, 0
    x = segments[:, p:p + T].t().contiguous()  # [T, B]
    y = segments[:, p + 1:p + T + 1].t().contiguous()
    if args.weight_drop > 0:
        logits, state = net.forward_weight_dropped(x, state, args.weight_drop)
    else:
        logits, state = net(x, state)
    loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction='sum') / B
    loss.backward()
    with torch.no_grad():
        for q in params:
            q.grad.clamp_(-args.clip, args.clip)
        if opt is not None:
            for group in opt.param_groups:
                group['lr'] = lr_at(n)
            opt.step()
        else:
            for q, m in zip(params, mems):
                m += q.grad * q.grad
                q -= lr_at(n) * q.grad / torch.sqrt(m + 1e-8)
    for q in params:
        q.grad = None
    if average is not None:
        update_average(n)
    state = detached(state)
    p += T
    n += 1
loop = time.perf_counter() - start - paused
print('# timing impl=torch-%s-%s L%d H%d B%d T%d threads=%d iters=%d loop_s=%.4f ms_per_iter=%.4f chars_per_s=%.0f'
      % (args.model, args.dtype, args.layers, H, B, T, args.threads, n, loop, 1e3 * loop / max(n, 1),
         n * B * T / loop), file=sys.stderr)
if n_val > 0:
    report(n, loop, best)
if args.sample_prime is not None:
    # From the evaluated weights (the average with --ema), the prime read
    # through the network, then one char at a time.
    with torch.no_grad():
        if average is not None:
            use_weights(average)
        net.eval()
        out = [index[c] for c in args.sample_prime]
        logits, state = net(torch.tensor(out).view(-1, 1), None)
        for _ in range(args.sample_len):
            probs = F.softmax(logits[-1, 0].double() / args.temperature, -1)
            out.append(torch.multinomial(probs, 1).item())
            logits, state = net(torch.tensor([[out[-1]]]), state)
    print(''.join(chars[i] for i in out))
