#!/usr/bin/env python3
"""A small causal transformer on characters (the architecture nanoGPT's
README describes), as a peer for charrnn's recipe: the same text, the same
split (the file's first 1 - val_frac for training, the rest held out), the
same cores and the same wall-clock budget.

Model: token and position embeddings, --n-layer pre-norm blocks of
multi-head causal self-attention and a 4x GELU MLP (residual around each),
a final LayerNorm and a head tied to the token embedding. Training: random
windows of --block chars from the training part, --batch at a time, AdamW
(betas 0.9/0.99, weight decay on the matrices only) with linear warm-up and
cosine decay to --min-lr over the --seconds budget (the schedule follows
the elapsed fraction of the budget, so any machine gets its own length).

Evaluation: the whole held-out text, every char scored once, each with at
least half a context (--block / 2 chars) before it: windows of --block
chars stepping by half a block, scoring the last half of each (the first
chars' context comes from the text before the split, as in any sliding
window). Evaluations run every --eval-every-s seconds of training and are
not counted in the budget.

Prints on stderr, for the benchmarks to read:
  # params=N
  # val iter=N train_s=S tokens=T val_nats_per_char=X best=Y
  # timing impl=transformer ... iters=N loop_s=S ms_per_iter=M chars_per_s=C tokens=T

  python3 benches/peers/transformer.py --data data/tinyshakespeare.txt --val-frac 0.05 \\
      --n-layer 4 --n-head 4 --n-embd 128 --block 128 --batch 32 --seconds 450 --threads 2

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
ap.add_argument('--val-frac', type=float, default=0.05, help="the file's held-out last fraction")
ap.add_argument('--n-layer', type=int, default=4)
ap.add_argument('--n-head', type=int, default=4)
ap.add_argument('--n-embd', type=int, default=128)
ap.add_argument('--block', type=int, default=128, help='context length in chars')
ap.add_argument('--batch', type=int, default=32)
ap.add_argument('--dropout', type=float, default=0.1)
ap.add_argument('--lr', type=float, default=1e-3)
ap.add_argument('--min-lr', type=float, default=1e-4)
ap.add_argument('--warmup', type=int, default=100, help='iterations of linear warm-up')
ap.add_argument('--weight-decay', type=float, default=0.1)
ap.add_argument('--clip', type=float, default=1.0, help='gradient-norm clipping (nanoGPT: 1)')
ap.add_argument('--seconds', type=float, required=True, help='training wall time, evaluations not counted')
ap.add_argument('--eval-every-s', type=float, default=None, help='evaluate every this many seconds of training')
ap.add_argument('--threads', type=int, default=1)
ap.add_argument('--seed', type=int, default=1)
ap.add_argument('--sample-prime', default=None, help='print a sample from this prime at the end')
ap.add_argument('--sample-len', type=int, default=400)
ap.add_argument('--temperature', type=float, default=0.8)
args = ap.parse_args()
assert args.n_embd % args.n_head == 0, '--n-embd must be a multiple of --n-head'

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
text = open(args.data, encoding='utf-8').read()
chars = sorted(set(text))
V = len(chars)
index = {c: i for i, c in enumerate(chars)}
ids = torch.tensor([index[c] for c in text], dtype=torch.long)
n_val = int(len(ids) * args.val_frac)  # charrnn's split: floor(fraction x length)
val_start = len(ids) - n_val
train_ids = ids[:val_start]
B, T = args.batch, args.block


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        d = args.n_embd
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d), nn.Dropout(args.dropout))
        self.drop = nn.Dropout(args.dropout)

    def forward(self, x):  # [B, L, d]
        b, l, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        heads = lambda t: t.view(b, l, args.n_head, d // args.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True,
                                           dropout_p=args.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, l, d)))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos = nn.Embedding(V, args.n_embd), nn.Embedding(T, args.n_embd)
        self.drop = nn.Dropout(args.dropout)
        self.blocks = nn.ModuleList(Block() for _ in range(args.n_layer))
        self.ln = nn.LayerNorm(args.n_embd)
        self.head = nn.Linear(args.n_embd, V, bias=False)
        self.head.weight = self.tok.weight  # tied, as nanoGPT
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, x):  # [B, L] -> logits [B, L, V]
        h = self.drop(self.tok(x) + self.pos(torch.arange(x.shape[1])))
        for block in self.blocks:
            h = block(h)
        return self.head(self.ln(h))


model = GPT()
print('# params=%d' % sum(p.numel() for p in model.parameters()), file=sys.stderr)
decay = [p for p in model.parameters() if p.dim() >= 2]
no_decay = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{'params': decay, 'weight_decay': args.weight_decay},
                         {'params': no_decay, 'weight_decay': 0.0}], lr=args.lr, betas=(0.9, 0.99))


def lr_at(n, fraction):
    """Warm-up over the first iterations, then cosine over the budget's elapsed fraction."""
    if n < args.warmup:
        return args.lr * (n + 1) / args.warmup
    return args.min_lr + (args.lr - args.min_lr) * 0.5 * (1 + math.cos(math.pi * min(1.0, fraction)))


@torch.no_grad()
def validation_loss():
    """Mean -log p per held-out char, each with at least half a context before it."""
    model.eval()
    half = T // 2
    total, count = 0.0, 0
    starts = list(range(val_start, len(ids), half))
    for i in range(0, len(starts), 64):
        xs, ys, scored = [], [], []
        for s in starts[i:i + 64]:
            e = min(s + half, len(ids))
            a = max(0, e - 1 - T)  # inputs ids[a : e-1], targets ids[a+1 : e]
            xs.append(ids[a:e - 1])
            ys.append(ids[a + 1:e])
            scored.append(e - s)
        for x, y, k in zip(xs, ys, scored):  # windows differ in length only at the ends
            logits = model(x.unsqueeze(0))[0, -k:]
            total += F.cross_entropy(logits.double(), y[-k:], reduction='sum').item()
            count += k
    model.train()
    return total / count


def report(n, trained, best):
    v = validation_loss()
    best = v if best is None else min(best, v)
    print('# val iter=%d train_s=%.1f tokens=%d val_nats_per_char=%.4f best=%.4f'
          % (n, trained, n * B * T, v, best), file=sys.stderr, flush=True)
    return best


n, best = 0, None
start, paused, next_eval = time.perf_counter(), 0.0, args.eval_every_s
while True:
    trained = time.perf_counter() - start - paused
    if trained >= args.seconds:
        break
    if next_eval is not None and trained >= next_eval:
        e0 = time.perf_counter()
        best = report(n, trained, best)
        next_eval += args.eval_every_s
        paused += time.perf_counter() - e0
    at = torch.randint(len(train_ids) - T - 1, (B,))
    x = torch.stack([train_ids[i:i + T] for i in at])
    y = torch.stack([train_ids[i + 1:i + T + 1] for i in at])
    for group in opt.param_groups:
        group['lr'] = lr_at(n, trained / args.seconds)
    loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
    opt.step()
    n += 1
loop = time.perf_counter() - start - paused
print('# timing impl=transformer L%d H%d E%d block%d B%d threads=%d iters=%d loop_s=%.1f ms_per_iter=%.2f '
      'chars_per_s=%.0f tokens=%d' % (args.n_layer, args.n_head, args.n_embd, T, B, args.threads, n, loop,
                                      1e3 * loop / max(n, 1), n * B * T / loop, n * B * T), file=sys.stderr)
report(n, loop, best)
if args.sample_prime is not None:
    model.eval()
    out = [index[c] for c in args.sample_prime]
    with torch.no_grad():
        for _ in range(args.sample_len):
            logits = model(torch.tensor([out[-T:]]))[0, -1] / args.temperature
            out.append(torch.multinomial(F.softmax(logits, -1), 1).item())
    print(''.join(chars[i] for i in out))
